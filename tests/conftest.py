import os
import sys

# Tests import their helpers (oracles.py) as top-level modules.
sys.path.insert(0, os.path.dirname(__file__))


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def chromium():
    """The system's headless Chromium, or the test is skipped with the reason."""
    from browser import find_chromium

    path = find_chromium()
    if path is None:
        pytest.skip("headless Chromium not found: browser test skipped "
                    "(install the Debian package chromium; CI does)")
    return path
