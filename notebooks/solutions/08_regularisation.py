"""Solutions to notebook 08's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # w <- w - lr * (0 + weight_decay * w) = 2 - 0.5 * 0.1 * 2
    "w_after": "w_after = 1.9",
    # L = (2w + b - 1)^2 + 0.05 w^2
    "regularised_gradient": (
        "def regularised_gradient(w, b):\n"
        "    error = w * 2.0 + b - 1.0\n"
        "    return [2 * error * 2.0 + 0.1 * w, 2 * error]\n"
    ),
    # E[z] = (1 - p) w.a = 0.75 * (0.5 - 2 + 3 + 1)
    "expected_z": "expected_z = 0.75 * 2.5",
}
