"""Give sphinx-gallery's thumbnails alt text: the title of the example they open.

sphinx-gallery writes every thumbnail (gallery index, topic mini-galleries) with an empty ``:alt:``;
a reader without images then meets unnamed pictures. Once references are resolved, the link that
follows each thumbnail holds the example's title as plain text, which becomes the image's alt text.
"""

from __future__ import annotations

from docutils import nodes


def _thumbnail_alt(app, doctree: nodes.document, docname: str) -> None:
    for image in doctree.findall(nodes.image):
        uri = image.get("uri", "")
        if image.get("alt") or "/thumb/sphx_glr_" not in uri:
            continue
        siblings = image.parent.children
        after = siblings[siblings.index(image) + 1 :]
        title = next((node.astext().strip() for node in after if isinstance(node, nodes.paragraph)), "")
        if title:
            image["alt"] = title


def setup(app):
    app.connect("doctree-resolved", _thumbnail_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
