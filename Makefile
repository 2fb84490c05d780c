# Two commands a newcomer needs: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint venv notebook bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(STAMP)

demo: venv
	$(PY) -m nn.demo

lint: venv
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
