"""Solutions to notebook 06's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # softmax(0, log 2, log 7) = (1, 2, 7) / 10; off the diagonal da_i/dz_j = -a_i a_j
    "da1_dz3": "da1_dz3 = -0.1 * 0.7",
    "softmax_jacobian": (
        "def softmax_jacobian(a):\n"
        "    n = len(a)\n"
        "    return [[a[i] * ((1.0 if i == j else 0.0) - a[j]) for j in range(n)]\n"
        "            for i in range(n)]\n"
    ),
    # dl/dz_j = softmax(z)_j - [j == 1], with the largest logit subtracted for stability
    "ce_gradient": (
        "def ce_gradient(z1, z2, z3):\n"
        "    zs = (z1, z2, z3)\n"
        "    m = max(zs)\n"
        "    e = [math.exp(v - m) for v in zs]\n"
        "    total = sum(e)\n"
        "    return [e[j] / total - (1.0 if j == 1 else 0.0) for j in range(3)]\n"
    ),
}
