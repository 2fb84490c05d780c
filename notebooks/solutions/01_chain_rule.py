"""Solutions to notebook 01's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # L = (a b + c) f: dL/da = dL/dd * dd/de * de/da = f * 1 * b = 3 * 4
    "dL_da": "dL_da = 12.0",
    # g = x y^2 + tanh(x)
    "my_gradient": (
        "def my_gradient(x, y):\n"
        "    return [y ** 2 + 1 - math.tanh(x) ** 2, 2 * x * y]\n"
    ),
}
