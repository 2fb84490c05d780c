"""Sphinx configuration of chainrule's documentation site (built by docs/build_site.py).

Sphinx, with myst-nb for the notebooks and Markdown pages and autodoc for the API
reference: autodoc imports the real packages, so the reference is the docstrings and
signatures that run, and myst-nb executes every notebook at build time, so each page
shows outputs made by this checkout.
"""

import os
import re
import sys
from pathlib import Path

# The checkout's packages, whichever folder the sources were copied to.
sys.path.insert(0, str(Path(os.environ.get("CHAINRULE_ROOT", Path(__file__).parents[2]))))

import engine  # noqa: E402

project = "chainrule"
release = version = engine.__version__
copyright = "chainrule developers"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "grading.md"]
html_theme = "furo"
html_title = f"chainrule {release}"
# MathJax is served from the site (docs/build_site.py copies it into _static/), so the
# formulas typeset with no network.
html_static_path = ["_static"]
mathjax_path = "mathjax/tex-chtml.js"
html_show_sourcelink = False

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Execute every notebook at build time (they are committed without outputs).
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_excludepatterns = [
    f"notebooks/{name}.ipynb" for name in os.environ.get("CHAINRULE_SITE_SKIP", "").split() if name
]
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
# Attributes listed in a docstring become fields of the class, not second entries.
napoleon_use_ivar = True

# The docstrings are plain text, where |x| is an absolute value, not an RST
# substitution: keep it as written.
def _keep_bars(app, what, name, obj, options, lines):
    lines[:] = [re.sub(r"\|(\w+)\|", r"\\|\1\\|", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _keep_bars)
