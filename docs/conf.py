"""Sphinx configuration of the provider's documentation: ``make docs`` builds it, warnings as errors.

Sphinx, not MkDocs: the provider's docstrings are reST (``:param x: ...``), as Apache Airflow's own
providers write them, so autodoc renders them as they are; and ``:ref:`` labels such as
``howto/connection:akinon`` (the one the hook's docstring points to) are Sphinx's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_akinon import __version__  # noqa: E402
from airflow_provider_akinon.hooks.extras import EXTRAS  # noqa: E402

project = "airflow-provider-akinon"
release = version = __version__
extensions = ["sphinx.ext.autodoc"]
autodoc_default_options = {"members": False, "show-inheritance": False}
autodoc_typehints = "none"
html_theme = "alabaster"
exclude_patterns = ["_build", "_generated"]
nitpicky = False


def _extras_table() -> str:
    """The connection's extras, from their one declaration (hooks/extras.py)."""
    rows = [".. list-table::", "   :header-rows: 1", "", "   * - extra", "     - meaning"]
    for extra in EXTRAS:
        rows += [f"   * - ``{extra.name}``", f"     - {extra.description}"]
    return "\n".join(rows) + "\n"


generated = Path(__file__).parent / "_generated"
generated.mkdir(exist_ok=True)
(generated / "extras.rst").write_text(_extras_table())
