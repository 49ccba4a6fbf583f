# Two entry points on a fresh machine: `make run` and `make test`.
# Both create .venv when it is missing and (re)install when pyproject.toml changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KEDRO_ENV ?= fast
export KEDRO_DISABLE_TELEMETRY := true
export MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK := true
export PYTHONUNBUFFERED := 1

.PHONY: run test demo viz lab mlflow-ui benchmark clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.installed-ui: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[ui]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/kedro run --env $(KEDRO_ENV)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The web page (live camera, upload, the list) on http://127.0.0.1:8000, after `make run` (docs/web.md).
demo: $(VENV)/.installed-ui
	$(BIN)/hybrid-recommender serve $(SERVE_ARGS)

viz: $(VENV)/.installed
	$(BIN)/kedro viz build

# notebooks/reproduce_paper.ipynb, after `make run`: the notebook loads the catalog with %load_ext kedro.ipython
lab: $(VENV)/.installed-dev
	$(BIN)/kedro jupyter lab --env $(KEDRO_ENV)

mlflow-ui: $(VENV)/.installed
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/ingestion.py
