"""The Sphinx documentation builds with warnings as errors and covers the public API.

Skipped unless the ``docs`` extra is installed (``pip install -e ".[docs]"``).
The build runs on a copy of ``docs/`` and ``examples/`` in a temporary folder,
offline and without executing the gallery (as CI does), so it takes seconds.

``SKMATH_RUN_EXAMPLES=1 pytest tests/test_docs.py -k example_runs`` also runs
every ``examples/plot_*.py`` script (minutes) and checks that it draws a figure.
"""

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import skmath

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
_GENERATED = ("_build", "generated", "auto_examples", "sg_execution_times.rst")

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("pydata_sphinx_theme")

_RUN_EXAMPLE = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
runpy.run_path(sys.argv[1], run_name="__main__")
n_figures = len(plt.get_fignums())
assert n_figures >= 1, "the example drew no figure"
print(f"figures: {n_figures}")
"""


def _public_names():
    return sorted(name for name in skmath.__all__ if not name.startswith("_"))


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build a copy of docs/ with ``sphinx-build -W``; return (html dir, log)."""
    tmp = tmp_path_factory.mktemp("docs")
    shutil.copytree(DOCS, tmp / "docs", ignore=shutil.ignore_patterns(*_GENERATED))
    shutil.copytree(EXAMPLES, tmp / "examples")
    html = tmp / "html"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SKMATH_DOCS_RUN_EXAMPLES", "SKMATH_DOCS_ONLINE")
    }
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(tmp / "docs"), str(html)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"sphinx-build -W failed:\n{log}"
    return html, log


def test_build_has_no_warnings(built_docs):
    # sphinx-build -W exits 0 (checked by the fixture) and prints no warning at all.
    _, log = built_docs
    assert "WARNING" not in log and "ERROR" not in log, log


def test_index_links_the_four_parts(built_docs):
    # The front page links the user guide, the API reference, the gallery and the benchmarks.
    html, _ = built_docs
    index = (html / "index.html").read_text(encoding="utf-8")
    for target in (
        "user_guide/index.html",
        "api.html",
        "auto_examples/index.html",
        "benchmarks.html",
    ):
        assert f'href="{target}' in index, target


def test_every_public_name_has_an_api_page(built_docs):
    # Each name in skmath.__all__ and each class/function of skmath.metrics gets a page;
    # the metrics' ready-made scorer objects are documented on the API page itself.
    html, _ = built_docs
    pages = [f"skmath.{name}" for name in _public_names()]
    on_api_page = []
    try:
        metrics = importlib.import_module("skmath.metrics")
    except ImportError:
        metrics = None
    for name in getattr(metrics, "__all__", []):
        obj = getattr(metrics, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            pages.append(f"skmath.metrics.{name}")
        else:
            on_api_page.append(f"skmath.metrics.{name}")
    missing = [name for name in pages if not (html / "generated" / f"{name}.html").exists()]
    assert not missing, f"no API page for {missing}: add them to docs/api.rst"
    api = (html / "api.html").read_text(encoding="utf-8")
    missing = [name for name in on_api_page if f'id="{name}"' not in api]
    assert not missing, f"{missing} not documented in docs/api.rst"


def test_user_guide_mentions_every_estimator():
    # The user guide discusses every public estimator (its math and how to tune it).
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "user_guide").glob("*.rst"))
    missing = [name for name in _public_names() if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"user guide pages do not mention {missing}"


def test_every_example_has_a_gallery_page(built_docs):
    # Each examples/plot_*.py becomes a page of the gallery, linked from its index.
    html, _ = built_docs
    scripts = sorted(p.stem for p in EXAMPLES.glob("plot_*.py"))
    assert len(scripts) >= 1
    gallery = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for stem in scripts:
        assert (html / "auto_examples" / f"{stem}.html").exists(), stem
        assert f"{stem}.html" in gallery, stem


def test_every_public_docstring_has_runnable_examples():
    # Each public estimator and metric has an Examples section with doctests (run by pytest).
    objects = {name: getattr(skmath, name) for name in _public_names()}
    try:
        metrics = importlib.import_module("skmath.metrics")
    except ImportError:
        metrics = None
    for name in getattr(metrics, "__all__", []):
        obj = getattr(metrics, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            objects[f"metrics.{name}"] = obj
    missing = [
        name
        for name, obj in objects.items()
        if not re.search(r"^\s*Examples\n\s*-{8}\n(.*\n)*?\s*>>> ", inspect.getdoc(obj) or "", re.M)
    ]
    assert not missing, f"no doctest Examples section in the docstring of {missing}"


@pytest.mark.skipif(
    os.environ.get("SKMATH_RUN_EXAMPLES") != "1",
    reason="runs every example (minutes): set SKMATH_RUN_EXAMPLES=1",
)
@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.stem)
def test_example_runs_and_draws_a_figure(script, tmp_path):
    # The example script runs to completion (Agg backend) and leaves at least one figure.
    result = subprocess.run(
        [sys.executable, "-c", _RUN_EXAMPLE, str(script)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "figures:" in result.stdout
