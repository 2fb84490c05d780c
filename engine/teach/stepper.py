"""Stepping through a forward and backward pass inside a notebook (``Explanation.stepper()``).

With ipywidgets: a slider and a switch between the forward pass (each node
computed from its inputs, ``forward.py``) and the backward pass (each
application of the chain rule). Without ipywidgets: the self-contained
step-through page (``page.py``), shown in the output in an ``<iframe>``, and a
printed note on how to get the slider. Nothing is downloaded either way.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .draw import inline_svg
from .forward import forward_steps
from .notation import number

if TYPE_CHECKING:  # pragma: no cover
    from .explain import Explanation

__all__ = ["stepper", "PageOutput", "NO_IPYWIDGETS", "FORWARD", "BACKWARD"]

#: The two settings of the stepper's ``phase`` switch.
FORWARD, BACKWARD = "forward pass", "backward pass"

#: Printed when ipywidgets is missing and the page is shown instead of the slider.
NO_IPYWIDGETS = (
    "ipywidgets is not installed, so here is the step-through page instead of the "
    "slider (the same steps: Next / Previous or the arrow keys). For the slider: "
    "pip install ipywidgets (or the [notebook] extra), then restart the kernel."
)

#: The height of the page's frame in a notebook output (CSS pixels).
FRAME_HEIGHT = 900


class PageOutput:
    """The step-through page, shown in a notebook output as an ``<iframe>``.

    Jupyter calls ``_repr_html_``; ``.page`` is the page's own HTML text (what
    ``Explanation.to_html`` writes) and ``.html`` the iframe around it, with the
    page escaped into its ``srcdoc`` attribute. The frame is sandboxed to run
    scripts only: the page needs nothing else, no network and no parent page.
    """

    def __init__(self, page: str, height: int = FRAME_HEIGHT) -> None:
        self.page = page
        self.html = (
            f'<iframe class="chainrule-page" title="step-through page" '
            f'sandbox="allow-scripts" style="width:100%;height:{int(height)}px;border:0" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        )

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return (f"PageOutput(a step-through page of {len(self.page.encode()):,} bytes; "
                "shown as HTML in a notebook)")


def _page_fallback(explanation: Explanation, draw_options: dict,
                   predict: bool = False) -> PageOutput:
    """The page instead of the slider (it has both passes: it starts with the forward)."""
    from .page import render_page

    print(NO_IPYWIDGETS)
    return PageOutput(render_page(explanation, forward=True, predict=predict, **draw_options))


def stepper(explanation: Explanation, forward: bool = False, predict: bool = False,
            **draw_options: Any):
    """A slider to step through the forward and backward pass inside a notebook.

    The ``phase`` switch chooses the forward pass (step k: the k-th node computed
    from its inputs, the nodes still to compute drawn lighter) or the backward
    pass (step k: that step's sentence and the graph at step k,
    ``.graph(step=k)``); ``forward=True`` starts with the forward pass. Without
    Graphviz's ``dot``, an install hint and the DOT text instead of the picture.
    Other keyword options go to ``draw_graph``.

    Returns an ``ipywidgets.VBox``; its ``.phase`` (``ToggleButtons``), ``.slider``
    and ``.text`` and ``.picture`` (both ``ipywidgets.HTML``) are the parts.

    ``predict=True`` is "predict, then reveal": the backward pass's slider goes only
    as far as the steps revealed; the next step's contribution stays hidden until
    the student types a guess into ``.guess`` and presses ``.reveal`` (Reveal), and
    ``.verdict`` says whether it was right (within ``page.PREDICT_TOLERANCE``,
    relative). The page fallback has the same mode.

    Without ipywidgets (``pip install ipywidgets``, the ``[notebook]`` extra) it
    prints how to get it and returns a ``PageOutput``: the step-through page of
    ``Explanation.to_html``, which shows itself in the notebook's output.

    Raises:
        TypeError: ``forward`` or ``predict`` is not a bool.
    """
    if not isinstance(forward, bool):
        raise TypeError(f"stepper: forward must be True or False (True: start with the "
                        f"forward pass), got {forward!r}")
    if not isinstance(predict, bool):
        raise TypeError(f"stepper: predict must be True or False (True: each step hidden "
                        f"until the student guesses its contribution), got {predict!r}")
    try:
        import ipywidgets as widgets
    except ImportError:
        return _page_fallback(explanation, draw_options, predict)

    hides = getattr(explanation, "hidden_constants", 0) > 0
    fsteps = forward_steps(explanation.root, explanation.notation, constants=not hides)
    phase = widgets.ToggleButtons(options=[FORWARD, BACKWARD],
                                  value=FORWARD if forward else BACKWARD, description="pass")
    revealed = [0]  # predict mode: how many backward steps have been revealed

    def backward_max() -> int:
        return revealed[0] if predict else len(explanation)

    slider = widgets.IntSlider(value=0, min=0,
                               max=len(fsteps) if forward else backward_max(),
                               description="step", continuous_update=False)
    text = widgets.HTML()
    picture = widgets.HTML()
    question = widgets.HTML()
    guess = widgets.Text(placeholder="your guess", description="guess")
    reveal = widgets.Button(description="Reveal")
    verdict = widgets.HTML()

    def ask() -> None:
        r = revealed[0]
        if r >= len(explanation):
            question.value = "<p>All steps revealed.</p>"
            return
        s = explanation[r]
        question.value = html.escape(
            f"Predict step {r + 1}: grad({s.input_name}) += grad({s.node_name}) * "
            f"d({s.node_name})/d({s.input_name}). What is this contribution?")

    def on_reveal(button: Any = None) -> None:
        from .page import PREDICT_TOLERANCE

        r = revealed[0]
        if r >= len(explanation):
            return
        try:
            value = float(guess.value.strip())
        except ValueError:
            verdict.value = "Type a number first, then Reveal."
            return
        s = explanation[r]
        right = abs(value - s.contribution) <= PREDICT_TOLERANCE * max(1.0, abs(s.contribution))
        revealed[0] = r + 1
        verdict.value = html.escape(
            ("Right: " if right else f"Not quite: you guessed {guess.value.strip()}; ")
            + f"the contribution is {s.product()} = {number(s.contribution)}.")
        guess.value = ""
        if phase.value == BACKWARD:
            slider.max = backward_max()
            slider.value = revealed[0]
        ask()

    reveal.on_click(on_reveal)

    def draw(drawn: Any) -> None:
        try:
            picture.value = inline_svg(drawn.svg())  # the drawer escapes labels
        except (ImportError, RuntimeError) as error:
            picture.value = (f"<p>{html.escape(str(error))}</p>"
                             f"<pre>{html.escape(drawn.source)}</pre>")

    def show_forward(k: int) -> None:
        from .draw import draw_graph

        if k == 0:
            inputs = ", ".join(f"{explanation.names[n]} = {number(n.data)}"
                               for n in explanation.notation.order if n.is_leaf())
            said = f"Forward pass: the inputs are {inputs}"
        else:
            said = f"Forward step {k} of {len(fsteps)}: {fsteps[k - 1].sentence()}"
        text.value = f"<pre>{html.escape(said)}</pre>"
        later = {f.node for f in fsteps[k:]}
        known = {n for n in explanation.order if n not in later}
        draw(draw_graph(explanation.root, grads={}, done=known, **draw_options))

    def show(change: Any = None) -> None:
        k = slider.value
        if phase.value == FORWARD:
            show_forward(k)
            return
        if k == 0:
            said = explanation.start()
        else:
            said = f"Step {k} of {len(explanation)}: {explanation[k - 1].sentence()}"
        text.value = f"<pre>{html.escape(said)}</pre>"
        draw(explanation.graph(step=k, **draw_options))

    def switch(change: Any = None) -> None:
        was = slider.value
        slider.value = 0  # shows step 0 of the new pass (if the value changed)
        slider.max = len(fsteps) if phase.value == FORWARD else backward_max()
        if was == 0:
            show()

    slider.observe(show, names="value")
    phase.observe(switch, names="value")
    show()
    parts = [phase, slider, text]
    if predict:
        ask()
        parts += [question, widgets.HBox([guess, reveal]), verdict]
    box = widgets.VBox(parts + [picture])
    box.phase, box.slider, box.text, box.picture = phase, slider, text, picture
    box.question, box.guess, box.reveal, box.verdict = question, guess, reveal, verdict
    return box
