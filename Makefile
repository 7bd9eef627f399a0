# Two commands for learners: `make lab` opens the workbook, `make test` runs everything CI runs.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_HOST ?= 127.0.0.1
LAB_PORT ?= 8888
# `make test` runs the notebooks against its own local cloud (own ports, own data) so it never
# touches the stack a learner has running on the default ports.
# JupyterLab refuses to run as root (containers, CI machines) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
TEST_ENV := LAB_DATA_DIR=$(CURDIR)/build/test-lab LAB_AWS_PORT=4666 LAB_OTLP_PORT=4418 LAB_XRAY_DAEMON_PORT=2100 \
            LAB_BACKEND_PORT=4667 LAB_DOWNSTREAM_PORT=4668 LAB_MODE=local

.PHONY: lab test check notebooks workbook install clean bench secrets-baseline

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
	$(PY) -m lab_app.localcloud start
	$(VENV)/bin/jupyter lab --ip=$(LAB_HOST) --port=$(LAB_PORT) --no-browser --notebook-dir=notebooks $(ROOT_FLAG)

# The fast static checks (under a minute): notebook pairs agree, no outputs, ruff, the secret scan.
check: $(STAMP)
	$(PY) tools/notebooks.py check
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb
	$(VENV)/bin/ruff check
	$(PY) -m pytest -q tests/test_secrets_scan.py

# After editing a notebook (its .py source in an editor, or the .ipynb in JupyterLab): pair, navigate, strip.
notebooks: $(STAMP)
	$(PY) tools/notebooks.py sync

test: check
	$(PY) -m pytest -q tests --ignore=tests/test_secrets_scan.py
	rm -rf build/test-lab
	$(TEST_ENV) $(VENV)/bin/python -m pytest -q --nbval-lax notebooks

workbook: $(STAMP)
	mkdir -p build
	$(VENV)/bin/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 --output-dir build notebooks/*.ipynb

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# After auditing a new finding (a documented dummy, never a real key): regenerate the baseline the test compares with.
secrets-baseline: $(STAMP)
	$(VENV)/bin/detect-secrets scan --exclude-files '(\.venv|\.lab|build)/' > .secrets.baseline

clean:
	rm -rf $(VENV) build .lab
