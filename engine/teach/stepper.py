"""Stepping through a backward pass inside a notebook (``Explanation.stepper()``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .draw import inline_svg

if TYPE_CHECKING:  # pragma: no cover
    from .explain import Explanation

__all__ = ["stepper"]


def stepper(explanation: Explanation, **draw_options: Any):
    """A slider to step through this backward pass inside a notebook (ipywidgets).

    Moving the slider to step k shows that step's sentence and the graph at
    step k (``.graph(step=k)``); without Graphviz's ``dot``, an install hint
    and the DOT text instead. Other keyword options go to ``draw_graph``.
    Returns an ``ipywidgets.VBox``; its ``.slider`` and ``.text`` and ``.picture``
    (both ``ipywidgets.HTML``) are the parts. Needs ``pip install ipywidgets``
    (the ``[notebook]`` extra).
    """
    try:
        import ipywidgets as widgets
    except ImportError as error:
        raise ImportError(
            "Explanation.stepper() needs ipywidgets: pip install ipywidgets "
            "(or the [notebook] extra); Explanation.to_html(path) writes a page "
            "that steps through the pass without it"
        ) from error

    slider = widgets.IntSlider(value=0, min=0, max=len(explanation), description="step",
                               continuous_update=False)
    text = widgets.HTML()
    picture = widgets.HTML()

    def show(change: Any = None) -> None:
        k = slider.value
        if k == 0:
            said = explanation.start()
        else:
            said = f"Step {k} of {len(explanation)}: {explanation[k - 1].sentence()}"
        text.value = f"<pre>{html.escape(said)}</pre>"
        drawn = explanation.graph(step=k, **draw_options)
        try:
            picture.value = inline_svg(drawn.svg())  # the drawer escapes labels
        except (ImportError, RuntimeError) as error:
            picture.value = (f"<p>{html.escape(str(error))}</p>"
                             f"<pre>{html.escape(drawn.source)}</pre>")

    slider.observe(show, names="value")
    show()
    box = widgets.VBox([slider, text, picture])
    box.slider, box.text, box.picture = slider, text, picture
    return box

