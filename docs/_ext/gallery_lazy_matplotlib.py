"""sphinx-gallery sets matplotlib up when the first example runs, not at every build.

sphinx-gallery imports matplotlib (and selects its Agg backend) when it fills its configuration, at every
build (0.22: ``gen_gallery._fill_gallery_conf_defaults``), though a build with no changed example runs
none: 1.5 s of a no-change build. Here that import is skipped, and the gallery's reset hook
(``nnfaq_conf.reset_example_state``, run before every example) does the same set-up before the first
example executes.
"""

from __future__ import annotations

from sphinx_gallery import gen_gallery


def _not_yet() -> None:
    """Stands for ``sphinx_gallery.scrapers._import_matplotlib`` at configuration time."""


def setup(app):
    app.setup_extension("sphinx_gallery.gen_gallery")
    gen_gallery._import_matplotlib = _not_yet
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
