"""Sphinx configuration of the course site (used by ``python3 -m coursekit.site html``).

Everything the pages load is served from the site: the theme's files, and MathJax 3 from
the ``sphinx-mathjax-offline`` package. The notebooks arrive executed (``nb_execution_mode
= "off"``); widget views were removed when they were staged, and no widget JavaScript is
loaded (``nb_ipywidgets_js = {}``: myst-nb's default fetches it from a CDN).
"""

from docutils import nodes

from coursekit.site import README_TITLE, docstring_math_to_rst, figure_alts

project = README_TITLE
author = "the course team"
copyright = "the course team"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
]
exclude_patterns = ["**.ipynb_checkpoints", "_build"]

# --- notebooks and markdown
nb_execution_mode = "off"
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "html_image", "html_admonition"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- the package reference
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# --- look
html_theme = "sphinx_book_theme"
html_title = README_TITLE
html_static_path = ["static"]
html_css_files = ["course.css"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # figures are drawn on white


def _alt_text(app, doctree):
    """Put each figure's alt text (cell metadata ``coursekit.alt``) on its ``<img>``."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        alts = figure_alts({"metadata": cell.get("cell_metadata", {})}) or []
        bundles = [
            b
            for b in cell.findall(nodes.container)
            if b.get("nb_element") == "mime_bundle" and next(b.findall(nodes.image), None)
        ]
        for bundle, alt in zip(bundles, alts):
            for image in bundle.findall(nodes.image):
                image["alt"] = alt


def _docstring_math(app, what, name, obj, options, lines):
    docstring_math_to_rst(lines)


def setup(app):
    app.connect("doctree-read", _alt_text)
    app.connect("autodoc-process-docstring", _docstring_math)
