"""The teaching tools: they read the graph the core (``engine.value``) records.

Nothing here changes how gradients are computed; every tool reads the same
nodes and the same rule table (``engine.ops.RULES``) that ``backward()`` uses,
so what they show is what runs. They all write through one notation:

* ``notation.py``: how a node is named, how numbers are printed (``precision``),
  how a formula is written, in text and LaTeX; ``templates.py`` fills a rule's
  formula with operands, with only the parentheses needed.

One file per tool:

* ``formula.py``: the expression a graph computes, as text;
* ``draw.py``: the graph as a picture (DOT, rendered by Graphviz);
* ``groups.py``: how the drawer sees ``nn`` modules (clusters, collapsed neurons);
* ``paths.py``: the chain rule as a sum over paths;
* ``explain.py``: the backward pass, step by step, with every number;
* ``stepper.py``: that pass stepped through inside a notebook;
* ``mathml.py``: LaTeX to MathML, so pages typeset formulas offline;
* ``page.py``: that explanation as one self-contained web page
  (its HTML, CSS and script are the files in ``assets/``);
* ``gradcheck.py``: backward() against finite differences;
* ``grading.py``: a student's hand-derived gradient against backward();
* ``exercise.py``: gradients to compute by hand, checked with hints (``exercise``);
* ``opcheck.py``: an op's derivative rule against central differences (``check_op``);
* ``tables.py``: how reports print as text and HTML;
* ``files.py``: every file is written atomically (``atomic_write``).

They know nn modules only through the scope protocol documented at
``engine.value.scope``; nothing here imports ``nn``.
"""

from .draw import Graph, GraphTooLarge, dot_available, draw_graph
from .exercise import Answer, Exercise, Feedback, exercise
from .explain import Explanation, Step, explain
from .formula import formula
from .gradcheck import GradcheckReport, GradcheckRow, gradcheck
from .grading import GradingReport, GradingRow, assert_gradients, check_gradients
from .notation import Notation, number, precision, set_precision
from .opcheck import OpCheckReport, OpCheckRow, check_op
from .paths import GradientPath, gradient_paths

__all__ = [
    "Notation", "number", "precision", "set_precision",
    "draw_graph", "Graph", "GraphTooLarge", "dot_available",
    "explain", "Explanation", "Step",
    "formula",
    "gradcheck", "GradcheckReport", "GradcheckRow",
    "check_gradients", "assert_gradients", "GradingReport", "GradingRow",
    "gradient_paths", "GradientPath",
    "check_op", "OpCheckReport", "OpCheckRow",
    "exercise", "Exercise", "Feedback", "Answer",
]
