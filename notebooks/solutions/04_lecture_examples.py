"""Solutions to notebook 04's exercise (run by tests/test_notebooks.py).

Students: try the exercise first; the check cell tells you what is wrong.
"""

ANSWERS = {
    # delta_1 = z_1 - y_1 = (1 + tanh 1) - 1 = tanh 1; u_2 = tanh 2
    # w21' = 0 - 0.5 * tanh(1) * tanh(2); v22' = 1 - 0.5 * g'(r_2) * back_sum_2 * x_2
    "sgd_step": (
        "w21_new = 0 - 0.5 * delta[1] * t2\n"
        "v22_new = 1 - 0.5 * g_prime[2] * back_sum[2]\n"
    ),
}
