"""Sphinx configuration for the nnfaq site. Shared settings come from conf/settings.toml."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT / "conf"), str(DOCS / "_ext"), str(ROOT)]

import nnfaq_conf
import nnfaq_pages

import nnfaq

project = "nnfaq"
author = "The nnfaq developers"
copyright = "2026, The nnfaq developers"
release = version = nnfaq.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # ships MathJax into _static: math renders with no network
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinx.ext.viewcode",  # every answer's implementation, with its formula comments, one click away
    "nnfaq_pages",  # docs/_ext: topic pages and gallery headers written from the question registry
    "nnfaq_directives",  # docs/_ext: landing, practice, cheat-sheet, errata and API content from the registry
    "nnfaq_exercises",  # docs/_ext: the exercise pages and starter files, from the judge's exercise table
    "nnfaq_docstrings",  # docs/_ext: a concept function's autodoc entry keeps its implementation sections only
    "thumbnail_alt",  # docs/_ext: gallery thumbnails get their example's title as alt text
    "stable_config",  # docs/_ext: the environment is pickled with conf.py's values: no-change builds read nothing
    "nnfaq_search",  # docs/_ext: search lists the answering question first, at its #q- anchor
    "a11y_workarounds",  # docs/_ext: names for the theme's sidebar toggles; citation lists as docutils should
    "gallery_lazy_matplotlib",  # docs/_ext: sphinx-gallery imports matplotlib when an example runs, not always
    "viewcode_no_import",  # docs/_ext: viewcode finds a module's file without importing it (no torch at rebuild)
    "unchanged_build",  # docs/_ext: templates compiled once; a build that changed no page writes no index
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/**/*.ipynb", "auto_examples/**/*.py"]
# sphinx-gallery's own per-gallery time pages load jQuery and DataTables from CDNs: not on this site
suppress_warnings = ["config.cache"]  # sphinx-gallery's callables are referenced by name; see reset_modules

myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# --- API docs ------------------------------------------------------------------------------------
autosummary_generate = False  # the topic pages are the canonical entries; the API page links to them
autodoc_typehints = "none"  # numpydoc's Parameters section carries the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# numpydoc's own validation: every public object documented, with parameters, returns and examples
numpydoc_validation_checks = {"GL08", "EX01", "PR01", "RT01", "GL07"}
numpydoc_validation_exclude = {
    r"\.[A-Z][A-Z_]*$",  # module constants: a comment, no sections
    r"\.Value\.\w+$",  # the autograd engine's operators: one line each, proven by Value's examples
}
# the autograd engine's node links (micrograd's _children, _op) are internal, not parameters to document
numpydoc_validation_overrides = {"PR01": [r"Values and gradients equal PyTorch's autograd"]}
default_role = "py:obj"
toc_object_entries = False  # the page's table of contents lists questions, not the folded autodoc entries
nitpicky = True

# No network at build time, so no intersphinx (it would fetch inventories): references to torch and
# Python are written as text or links instead.
nitpick_ignore_regex = [
    (r"py:.*", r"torch(\..*)?"),
    (r"py:.*", r"numpy(\..*)?|np\..*"),
    (r"py:.*", r"sklearn(\..*)?"),
    (r"py:.*", r"(optional|default .*|tensor|int|float|bool|str|callable|sequence of .*|iterable of .*|or|None)"),
    (r"py:.*", r"(list|tuple|dict|Sequence|Iterable)(\[.*\])?"),
]

# --- sphinx-gallery ------------------------------------------------------------------------------
# one gallery per part (sphinx-gallery allows one level of subfolders: the part's topics), as matplotlib does
gallery = nnfaq_conf.SETTINGS["gallery"]
GALLERY_PARTS = nnfaq_pages.parts_with_examples(ROOT / gallery["examples_dir"])
sphinx_gallery_conf = {
    "examples_dirs": [f"../{gallery['examples_dir']}/{p}" for p in GALLERY_PARTS],
    "gallery_dirs": [f"{gallery['gallery_dir']}/{p}" for p in GALLERY_PARTS],
    "filename_pattern": gallery["filename_pattern"],
    "subsection_order": "nnfaq_pages.gallery_order",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("nnfaq",),
    "backreferences_dir": "gen_modules/backreferences",
    "inspect_global_variables": False,
    # torch (seed, threads, dtype, grad mode) and matplotlib are reset before every example
    "reset_modules": ("nnfaq_conf.reset_example_state",),
    "reset_modules_order": "before",
    "junit": gallery["junit"],
    # its sg_execution_times pages load jQuery and DataTables from CDNs: the site must work offline.
    # Times are in the JUnit file instead (read by tools/check_gallery.py and the bench session).
    "write_computation_times": False,
    "download_all_examples": True,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 0,
    "only_warn_on_example_error": False,
    "run_stale_examples": False,
    "default_thumb_file": None,
    "thumbnail_size": (320, 224),
    "capture_repr": ("_repr_html_",),
    "copyfile_regex": "",
}

# --- HTML ----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "nnfaq"
html_favicon = "_static/favicon.svg"
html_static_path = ["_static"]
html_css_files = ["nnfaq.css"]
html_js_files = ["nnfaq-filter.js"]
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    # the sidebar shows the current page's branch only: rendering every branch with its expand toggles was
    # two thirds of each page's write time
    "collapse_navigation": True,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
    "icon_links": [],
    "use_edit_page_button": False,
    "show_version_warning_banner": False,
    # the theme's accessible styles: code colours at WCAG AA contrast or better
    "pygments_light_style": "a11y-high-contrast-light",
    "pygments_dark_style": "a11y-high-contrast-dark",
}
html_context = {"default_mode": "auto"}
html_sidebars = {"index": [], "practice": [], "errata": [], "cheatsheet": []}

# Copy only code, never the ">>> " / "... " prompts or the outputs of doctests.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
