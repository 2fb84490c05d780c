"""Solutions to notebook 11's exercises (run by tests/test_notebooks.py).

Students: try the exercises first; the check cells tell you what is wrong.
"""

ANSWERS = {
    # one factor of at most sigma'(0) = 1/4 per unit, six units
    "fraction": "fraction = 0.25 ** 6",
    # g'(x) = sigma'(sigma(x)) * sigma'(x)
    "chain_gradient": (
        "def sigmoid(t):\n"
        "    return 1 / (1 + math.exp(-t))\n"
        "\n"
        "\n"
        "def chain_gradient(x):\n"
        "    inner = sigmoid(x)\n"
        "    outer = sigmoid(inner)\n"
        "    return outer * (1 - outer) * inner * (1 - inner)\n"
    ),
    "choice": 'choice = ("tanh", "lecun")',
}
