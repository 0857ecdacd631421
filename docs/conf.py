"""Sphinx configuration of the skmath documentation.

Build (offline, warnings as errors, examples not executed)::

    pip install -e ".[docs]"
    sphinx-build -W docs docs/_build/html

Two environment variables change the build:

``SKMATH_DOCS_RUN_EXAMPLES=1``
    Execute the gallery's ``examples/plot_*.py`` scripts and embed their
    figures (a few minutes on a laptop CPU). By default the gallery pages show
    the code only, so the build takes seconds.
``SKMATH_DOCS_ONLINE=1``
    Link names to the scikit-learn, PyTorch, NumPy and SciPy documentation
    through intersphinx. This downloads their inventories at build time, so it
    is off by default: an offline build must not fail (``-W`` turns a failed
    download into an error).
"""

import os
import re
from pathlib import Path

import skmath

HERE = Path(__file__).resolve().parent

project = "skmath"
author = "the skmath developers"
copyright = "the skmath developers, BSD-3-Clause"
version = release = skmath.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/backreferences", "**.ipynb_checkpoints"]
# The benchmark table is included by benchmarks.rst, not a page of its own.
exclude_patterns.append("benchmarks_table.rst")
root_doc = "index"
default_role = "literal"
nitpicky = False

# Docstrings cite papers as :arxiv:`1506.02142` and :doi:`10.xxx`.
extlinks = {
    "arxiv": ("https://arxiv.org/abs/%s", "arXiv:%s"),
    "doi": ("https://doi.org/%s", "doi:%s"),
}

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# Methods are listed by the class template, not by numpydoc: without this,
# numpydoc adds an autosummary table of members whose stubs do not exist.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    """Turn ``:ref:``/``:term:`` roles of inherited scikit-learn docstrings into text.

    Methods inherited from scikit-learn (``get_params``, ``score``,
    ``set_output``, ``set_fit_request``...) point to labels and glossary terms
    of scikit-learn's own documentation, which do not exist here; offline they
    would be unresolved references, which ``-W`` makes errors. Only docstrings
    defined in scikit-learn are changed.
    """
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn"):
        return
    for i, line in enumerate(lines):
        lines[i] = _SKLEARN_ROLE.sub(lambda m: f"*{m.group(1).strip() or 'see scikit-learn'}*", line)


# ``ndarray of shape (n_features_in_,)``: in reST a bare word ending in ``_`` is
# a hyperlink reference. scikit-learn writes ``(`n_features_in_`,)``; quote
# such names inside a ``shape (...)`` when a docstring did not.
_SHAPE_WITH_ATTRIBUTE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def _quote_shape_attributes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _SHAPE_WITH_ATTRIBUTE.sub(r"`\1`", line)


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
    app.connect("autodoc-process-docstring", _quote_shape_attributes)


# -- intersphinx: offline unless asked ---------------------------------------
if os.environ.get("SKMATH_DOCS_ONLINE") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
        "distributed": ("https://distributed.dask.org/en/stable", None),
    }
else:
    intersphinx_mapping = {}
intersphinx_timeout = 10

# -- sphinx-gallery -----------------------------------------------------------
run_examples = os.environ.get("SKMATH_DOCS_RUN_EXAMPLES") == "1"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": run_examples,
    "download_all_examples": False,
    "doc_module": ("skmath",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skmath": None},
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # Examples may warn (e.g. a ConvergenceWarning they demonstrate): that is
    # output, not a documentation error.
    "only_warn_on_example_error": False,
}

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmath {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "benchmarks": [], "install": []}
html_show_sourcelink = False
