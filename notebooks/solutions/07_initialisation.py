"""Solutions to notebook 07's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # Var(z) = D sigma^2 = 1, so sigma = 1 / sqrt(25)
    "sigma": "sigma = 0.2",
    # dL/db = (1/4) sum_n 2 (0 - y_n) = -(1/2) sum_n y_n, with targets 0, 1, 1, 0
    "dL_db": "dL_db = -1.0",
    # a = tanh(w x): da/dw = x (1 - a^2), da/dx = w (1 - a^2)
    "tanh_unit_gradient": (
        "def tanh_unit_gradient(w, x):\n"
        "    slope = 1 - math.tanh(w * x) ** 2\n"
        "    return [x * slope, w * slope]\n"
    ),
}
