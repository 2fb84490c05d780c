"""Solutions to notebook 10's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # b1 = 1, theta = -0.1; b2 = 0.9 + 1 = 1.9, theta = -0.1 - 0.19
    "theta_after_two": "theta_after_two = -0.29",
    # s = 9 + 16 = 25, step = 1 * 4 / 5
    "second_step": "second_step = 0.8",
    "nesterov_step": (
        "def nesterov_step(theta, b, g, lr, mu):\n"
        "    b = mu * b + g\n"
        "    return theta - lr * (g + mu * b), b\n"
    ),
}
