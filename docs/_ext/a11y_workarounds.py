"""Sphinx extension: work around accessibility faults of the theme and of docutils (WCAG 2.1 A/AA).

axe-core (run on every page by ``tests/browser``) finds two faults whose cause is upstream:

- **Sidebar expand toggles with no name** (axe ``summary-name``). pydata-sphinx-theme puts each
  section's sub-pages in a ``<details>`` whose ``<summary>`` holds only a decorative chevron, so a
  screen reader announces an unnamed control. Its sidebar function is wrapped to name each toggle
  after the page it opens ("Show or hide the pages under Training").
- **Citation lists whose role does not allow their children** (axe ``aria-required-children``).
  docutils writes references as a ``<div role="list">`` of ``role="doc-biblioentry"`` entries, a role
  DPUB-ARIA 1.1 deprecated (in favour of ``listitem``) and axe no longer counts as a list item. The
  entries are written with ``role="listitem"``.

Gallery thumbnails whose link hides its text with ``display: none`` (axe ``link-name``) are fixed in
``_static/nnfaq.css``, which keeps the text for screen readers and hides it visually.
"""

from __future__ import annotations

from docutils import nodes


def visit_citation(self, node) -> None:
    """docutils' own (``_html_base.HTMLTranslator.visit_citation``), with the list item role."""
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def depart_citation(self, node) -> None:
    self.body.append("</div>\n")
    if not isinstance(node.next_node(descend=False, siblings=True), type(node)):
        self.body.append("</div>\n")


def _named_toggles(generate):
    def generate_toctree_html(kind, *args, **kwargs):
        html = generate(kind, *args, **kwargs)
        if kind != "sidebar":
            return html
        from bs4 import BeautifulSoup

        soup = html if isinstance(html, BeautifulSoup) else BeautifulSoup(str(html), "html.parser")
        for summary in soup.select("li.has-children > details > summary"):
            link = summary.parent.parent.find("a", recursive=False)
            if link is not None and not summary.get_text(strip=True):
                summary["aria-label"] = f"Show or hide the pages under {link.get_text(' ', strip=True)}"
        return soup

    return generate_toctree_html


def name_sidebar_toggles(app, pagename, templatename, context, doctree) -> None:
    """After the theme's ``html-page-context`` handler, which puts ``generate_toctree_html`` there."""
    if "generate_toctree_html" in context:
        context["generate_toctree_html"] = _named_toggles(context["generate_toctree_html"])


def setup(app):
    app.add_node(nodes.citation, override=True, html=(visit_citation, depart_citation))
    app.connect("html-page-context", name_sidebar_toggles, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
