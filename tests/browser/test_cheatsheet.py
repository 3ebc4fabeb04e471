"""The cheat sheet prints: A4, no header, sidebars, footer or navigation, every 30-second answer.

Chromium prints the page to PDF (saved next to the screenshots); the page count is printed and must
stay within MAX_PAGES.
"""

from __future__ import annotations

import re

MAX_PAGES = 12  # A4 pages for every 30-second answer (about 60 words each)
HIDDEN_IN_PRINT = (".bd-header", ".bd-sidebar-primary", ".bd-sidebar-secondary", ".bd-footer", ".prev-next-area")


def test_cheatsheet_prints_to_a_few_a4_pages_without_sidebars(context, base_url, site):
    page = context.new_page()
    try:
        page.goto(base_url + "cheatsheet.html")
        answers = page.locator(".nnfaq-cheat").count()
        assert answers > 0, "the cheat sheet shows no answer"
        page.emulate_media(media="print")
        shown = page.evaluate(
            "sels => sels.filter(s => Array.from(document.querySelectorAll(s)).some(el => el.checkVisibility()))",
            list(HIDDEN_IN_PRINT),
        )
        assert not shown, f"shown in print: {shown}"
        article = page.evaluate("document.querySelector('.bd-article').getBoundingClientRect().width")
        assert article > 0.9 * page.viewport_size["width"], f"the printed text is {article} px wide, not the page's"
        pdf = page.pdf(format="A4", margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
        (site.parent / "screenshots").mkdir(parents=True, exist_ok=True)
        (site.parent / "screenshots" / "cheatsheet.pdf").write_bytes(pdf)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        print(f"cheat sheet: {answers} answers on {pages} A4 pages")
        assert 1 <= pages <= MAX_PAGES, f"{answers} answers print to {pages} A4 pages (at most {MAX_PAGES})"
    finally:
        page.close()
