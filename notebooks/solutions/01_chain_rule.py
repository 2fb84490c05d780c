"""Solutions to notebook 01's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # L = (a b + c) f: dL/da = dL/dd * dd/de * de/da = f * 1 * b = 3 * 4
    "dL_da": "dL_da = 12.0",
    # g = x y^2 + tanh(x)
    # u = x y, L = u^2 + x: dL/du = 2u = -4; dL/dx = dL/du * y + 1 = 5; dL/dy = dL/du * x
    "backward_pass": 'answers = {"u": -4.0, "x": 5.0, "y": -8.0}',
    "my_gradient": (
        "def my_gradient(x, y):\n"
        "    return [y ** 2 + 1 - math.tanh(x) ** 2, 2 * x * y]\n"
    ),
}
