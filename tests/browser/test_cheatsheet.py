"""The cheat sheet prints: A4, no header, sidebars, footer or navigation, every 30-second answer.

Chromium prints the page to PDF (saved next to the screenshots, at the page size the print stylesheet
sets); the page count is printed, and each A4 page must hold at least ANSWERS_PER_PAGE answers.
"""

from __future__ import annotations

import re

ANSWERS_PER_PAGE = 12  # 30-second answers (about 60 words each) on one printed A4 page, at least
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
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
        (site.parent / "screenshots").mkdir(parents=True, exist_ok=True)
        (site.parent / "screenshots" / "cheatsheet.pdf").write_bytes(pdf)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        print(f"cheat sheet: {answers} answers on {pages} A4 pages")
        most = -(-answers // ANSWERS_PER_PAGE)
        assert 1 <= pages <= most, f"{answers} answers print to {pages} A4 pages (at most {most})"
    finally:
        page.close()
