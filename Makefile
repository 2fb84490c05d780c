# Two commands a newcomer needs: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo
NOTEBOOK_STAMP := $(VENV)/.installed-notebook
EPOCHS ?=
comma := ,

.PHONY: demo test lint typecheck venv notebook strip bench bench-one clean test-all suite site site-test grader

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

# mypy on engine/ and nn/, as configured in pyproject.toml ([tool.mypy]).
typecheck: venv
	$(PY) -m mypy

test: lint typecheck
	$(PY) -m pytest

# The suite on every supported Python, each in its own .venv-X.Y (created on first
# use, reinstalled when pyproject.toml changes). A Python is looked for as pythonX.Y
# on the PATH, then among pyenv's versions (the newest X.Y.*). One that is missing is
# reported and skipped; under CI=true it fails the run. PyTorch's CPU wheel exists
# for $(TORCH_PYTHON) only: there the PyTorch comparisons run, elsewhere they are
# skipped with the reason. ruff and mypy do not depend on the Python: `make test`
# runs them. TESTED lists versions already tested (.ci/run passes the one `make test`
# just ran on in .venv): reported, not run twice.
#   make test-all                     every version
#   make test-all PYTHONS=3.13        one
PYTHONS ?= 3.10 3.11 3.12 3.13
TORCH_PYTHON := 3.11
TESTED ?=

# The interpreter for version $$v (pythonX.Y on the PATH, then pyenv's newest X.Y.*),
# checked to be that version (a pyenv shim for a version not selected fails), or nothing.
find_python = for py in python$$v "$$(pyenv root 2>/dev/null)/versions/$$(pyenv latest $$v 2>/dev/null)/bin/python$$v"; do "$$py" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$$v'.split('.'))))" 2>/dev/null && { echo "$$py"; break; }; done

test-all:
	@passed=; skipped=; failed=; \
	for v in $(PYTHONS); do \
		case " $(TESTED) " in *" $$v "*) \
			echo "test-all: Python $$v: already tested by make test (in $(VENV))"; \
			passed="$$passed $$v"; continue;; \
		esac; \
		py=$$($(find_python)); \
		if [ -z "$$py" ]; then \
			echo "test-all: Python $$v not found (no python$$v on the PATH, none under pyenv)"; \
			if [ "$${CI:-}" = true ]; then failed="$$failed $$v(missing)"; else skipped="$$skipped $$v"; fi; \
			continue; \
		fi; \
		echo "test-all: Python $$v: $$py ($$("$$py" -c 'import platform; print(platform.python_version())')) in .venv-$$v"; \
		start=$$(date +%s); \
		if $(MAKE) --no-print-directory suite PYTHON="$$py" VENV=.venv-$$v; then \
			passed="$$passed $$v"; else failed="$$failed $$v"; fi; \
		echo "test-all: Python $$v took $$(( $$(date +%s) - start )) s"; \
	done; \
	echo "test-all: passed on:$${passed:- none}$${skipped:+; skipped, not installed:$$skipped}$${failed:+; FAILED on:$$failed}"; \
	[ -z "$$failed" ]

# One version's run (called by test-all with PYTHON and VENV set): PyTorch first
# where its wheel exists, then the [dev] extra, then pytest.
TORCH_STAMP := $(VENV)/.installed-torch
$(TORCH_STAMP): | $(PY)
	@if $(PY) -c "import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(TORCH_PYTHON))))"; then \
		$(PY) -m pip install --quiet torch==2.13.0; \
	else \
		echo "suite: no PyTorch wheel for this Python (only $(TORCH_PYTHON)): the PyTorch comparisons will be skipped"; \
	fi
	touch $@

suite: $(TORCH_STAMP) $(STAMP)
	$(PY) -m pytest

# nbgrader in an environment of its own (tests/test_grading_nbgrader.py grades a sample
# assignment with it end to end), so its pins never meet the test environment's.
GRADER_STAMP := .venv-grader/.installed
$(GRADER_STAMP):
	$(PYTHON) -m venv .venv-grader
	.venv-grader/bin/python -m pip install --quiet "nbgrader>=0.9,<0.10"
	touch $@

grader: $(GRADER_STAMP)

# The benchmark suite (bench/run.py): chainrule vs micrograd vs PyTorch, on every
# Python of PYTHONS that is installed (found as test-all finds them), each in its own
# .venv-X.Y with the [bench] extra; PyTorch only where its CPU wheel exists
# ($(TORCH_PYTHON)). Each version writes its own table, bench/results/python-X.Y.md,
# ratios to micrograd within it. `make bench BENCH_ARGS=--quick` for a shorter run
# (written to bench/results/quick-python-X.Y.md, so the full results stay);
# `make bench PYTHONS=3.13` for one version.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

bench:
	@done_=; skipped=; failed=; \
	for v in $(PYTHONS); do \
		py=$$($(find_python)); \
		if [ -z "$$py" ]; then \
			echo "bench: Python $$v not found (no python$$v on the PATH, none under pyenv)"; \
			skipped="$$skipped $$v"; continue; \
		fi; \
		echo "bench: Python $$v: $$py in .venv-$$v"; \
		if $(MAKE) --no-print-directory bench-one PYTHON="$$py" VENV=.venv-$$v; then \
			done_="$$done_ $$v"; else failed="$$failed $$v"; fi; \
	done; \
	echo "bench: ran on:$${done_:- none}$${skipped:+; skipped, not installed:$$skipped}$${failed:+; FAILED on:$$failed}"; \
	[ -z "$$failed" ]

# One version's run (called by bench with PYTHON and VENV set).
bench-one: $(TORCH_STAMP) $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* .venv-grader .pytest_cache .hypothesis .mypy_cache build *.egg-info

# The documentation site and the course in the browser (docs/build_site.py): build/site/
# holds the docs (Sphinx) and lite/, a JupyterLite app. Installing the [site] extra and
# fetching Pyodide and the wheels into build/site-cache/ needs the registries, once;
# the build itself is offline. Serve the result with
#   python3 -m http.server -d build/site -b 127.0.0.1 8000
SITE_STAMP := $(VENV)/.installed-site
SITE_CACHE := build/site-cache/.fetched
$(SITE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[site]"
	touch $@

$(SITE_CACHE): $(SITE_STAMP) docs/build_site.py
	$(PY) docs/build_site.py --fetch
	touch $@

site: $(SITE_CACHE)
	$(PY) docs/build_site.py

# The site's tests (tests/test_site.py) on a fresh build: offline, served on 127.0.0.1,
# notebook 01 run in JupyterLite in headless Chromium.
site-test: site
	CHAINRULE_SITE=build/site $(PY) -m pytest tests/test_site.py -v
