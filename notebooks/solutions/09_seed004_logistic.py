"""Solutions to notebook 09's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # d/ds log(1 + exp(-y s)) = -y sigmoid(-y s) = -1 * sigmoid(0)
    "dl_ds": "dl_ds = -0.5",
    # F = w^2 / 2 + C log(1 + exp(-y (w x + b))): g = -y sigmoid(-y s) is dl/ds
    "logistic_gradient": (
        "def logistic_gradient(w, b):\n"
        "    x, y, C = 1.5, -1.0, 2.0\n"
        "    g = -y * sigmoid(-y * (w * x + b))\n"
        "    return [w + C * g * x, C * g]\n"
    ),
}
