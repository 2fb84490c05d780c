# Two commands a newcomer needs: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo
NOTEBOOK_STAMP := $(VENV)/.installed-notebook
EPOCHS ?=

.PHONY: demo test lint venv notebook strip bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(STAMP)

# The demo needs only the drawing, plotting and progress-bar extras.
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[viz,plot,progress]"
	touch $@

demo: $(DEMO_STAMP)
	$(PY) -m nn.demo $(if $(EPOCHS),--epochs $(EPOCHS))

# JupyterLab on notebooks/, with the packages the notebooks use.
$(NOTEBOOK_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[notebook,viz,plot,progress]"
	touch $@

# As root (in a container, say) Jupyter refuses to start unless told it is meant.
notebook: $(NOTEBOOK_STAMP)
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Remove outputs and execution counts from the notebooks before committing.
strip: venv
	$(PY) -m nbstripout notebooks/*.ipynb

lint: venv
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

# The benchmark suite (bench/run.py): chainrule vs micrograd vs PyTorch. Writes
# bench/results/latest.md. `make bench BENCH_ARGS=--quick` for a shorter run
# (written to bench/results/partial.md, so the full results stay).
# PyTorch first, pinned to the CPU wheel, as .ci/run does.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $@

bench: $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
