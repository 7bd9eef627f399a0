# Two commands for learners: `make lab` opens the workbook, `make test` runs everything CI runs.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_HOST ?= 127.0.0.1
LAB_PORT ?= 8888

.PHONY: lab test workbook install clean bench secrets-baseline

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=$(LAB_HOST) --port=$(LAB_PORT) --no-browser --notebook-dir=notebooks

test: $(STAMP)
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb
	$(VENV)/bin/python -m pytest -q tests
	$(VENV)/bin/python -m pytest -q --nbval-lax notebooks

workbook: $(STAMP)
	mkdir -p build
	$(VENV)/bin/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 --output-dir build notebooks/*.ipynb

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build .lab
