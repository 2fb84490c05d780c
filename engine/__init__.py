"""chainrule's autodiff engine: scalar ``Value`` nodes and reverse-mode backprop.

Layout: the autodiff core is the four files at this package's root
(``value.py``: the node; ``ops.py``: the rule table; ``backward.py``: the chain
rule loop; ``tape.py``: the compiled replay over batches). The teaching tools
that read it (drawing, explaining, paths, gradcheck) are in ``engine/teach/``.

User API (what a notebook needs)::

    from engine import Value, no_grad, gc_paused, draw_graph, gradient_paths, formula
    from engine import explain, gradcheck
    from engine import define_op, check_op
    from engine import exercise

``define_op(name, forward, derivative)`` adds an op of your own to the rule
table (backward, the tools and the tape then treat it as a built-in);
``check_op(op)`` grades its derivative with central differences.

``exercise(root, ask=[...])`` asks for gradients by hand and checks them
(``.check({name: value})``, with hints), in a notebook or as a page.

``explain(root)`` runs the backward pass and narrates it step by step;
``gradcheck(f, inputs)`` compares ``backward()`` with finite differences.

Extension API: the rule table ``engine.ops.RULES`` (add an op there), the
backward order ``engine.backward.backward_order``, the textbook chain-rule loop
``engine.backward.backward_textbook`` (what ``backward()`` computes, written
plainly) and ``engine.value.scope``.

The compiled tape, ``from engine.tape import Tape`` (needs NumPy, so it is not
imported here), replays a recorded graph over whole batches.
"""

from .backward import backward_order, backward_textbook
from .ops import RULES, Rule, define_op, remove_op

# The teaching tools (engine/teach/) read the core; the core never imports them.
from .teach import (  # noqa: E402  (after the core, which they read)
    Answer,
    Exercise,
    Explanation,
    Feedback,
    GradcheckReport,
    GradcheckRow,
    GradientPath,
    Graph,
    OpCheckReport,
    OpCheckRow,
    Step,
    check_op,
    dot_available,
    draw_graph,
    exercise,
    explain,
    formula,
    gradcheck,
    gradient_paths,
)
from .value import Value, gc_paused, is_grad_enabled, no_grad

__version__ = "0.1.0"

#: Marks this package as chainrule's engine (``nn`` checks it at import).
__chainrule__ = "engine"

__all__ = [
    "Value",
    "no_grad",
    "is_grad_enabled",
    "gc_paused",
    "backward_order",
    "backward_textbook",
    "draw_graph",
    "Graph",
    "dot_available",
    "gradient_paths",
    "formula",
    "GradientPath",
    "explain",
    "Explanation",
    "Step",
    "gradcheck",
    "GradcheckReport",
    "GradcheckRow",
    "RULES",
    "Rule",
    "define_op",
    "remove_op",
    "check_op",
    "OpCheckReport",
    "OpCheckRow",
    "exercise",
    "Exercise",
    "Feedback",
    "Answer",
    "__version__",
]
