# Two commands for learners: `make lab` opens the workbook, `make test` runs everything CI runs.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_HOST ?= 127.0.0.1
LAB_PORT ?= 8888
# Behind a cloud IDE's port forwarding the browser reaches JupyterLab by another name than 127.0.0.1: a codespace at
# https://<codespace>-8888.<forwarding domain> (GitHub sets both variables), Gitpod at https://8888-<workspace host>.
# JupyterLab still listens on 127.0.0.1 only; it accepts that one name as local (its DNS-rebinding check) and that one
# origin for kernel websockets, and no other site. Set LAB_PUBLIC_HOST yourself behind any other proxy.
LAB_PUBLIC_HOST ?= $(if $(and $(CODESPACE_NAME),$(GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN)),$(CODESPACE_NAME)-$(LAB_PORT).$(GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN),$(if $(GITPOD_WORKSPACE_URL),$(LAB_PORT)-$(patsubst https://%,%,$(GITPOD_WORKSPACE_URL)),))
PUBLIC_FLAGS = $(if $(LAB_PUBLIC_HOST),--ServerApp.local_hostnames=localhost --ServerApp.local_hostnames=$(LAB_PUBLIC_HOST) --ServerApp.allow_origin=https://$(LAB_PUBLIC_HOST),)
# `make test` runs the notebooks against its own local cloud (own ports, own data) so it never
# touches the stack a learner has running on the default ports.
# JupyterLab refuses to run as root (containers, CI machines) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
TEST_ENV := LAB_DATA_DIR=$(CURDIR)/build/test-lab LAB_AWS_PORT=4666 LAB_OTLP_PORT=4418 LAB_XRAY_DAEMON_PORT=2100 \
            LAB_BACKEND_PORT=4667 LAB_DOWNSTREAM_PORT=4668 LAB_MODE=local

.PHONY: lab lab-background lab-url lab-stop test check notebooks workbook install clean bench secrets-baseline doctor

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The kernel is registered under the name and display name the notebooks' metadata carries (tools/notebooks.py
# keeps them so), so JupyterLab opens
# them without marking them changed. jupyter/: kernels talk to JupyterLab over local IPC sockets (no TCP port,
# so no "running over TCP without encryption" warning), and JupyterLab does not ask to fetch Jupyter news.
$(STAMP): $(PY) requirements.txt requirements-adot.txt pyproject.toml jupyter/jupyter_config.py jupyter/ipython_kernel_config.py jupyter/overrides.json
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --upgrade --target build/adot -r requirements-adot.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	mkdir -p $(VENV)/etc/jupyter $(VENV)/etc/ipython $(VENV)/share/jupyter/lab/settings
	cp jupyter/jupyter_config.py $(VENV)/etc/jupyter/jupyter_config.py
	cp jupyter/ipython_kernel_config.py $(VENV)/etc/ipython/ipython_kernel_config.py
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(PY) -m lab_app.localcloud start
	$(VENV)/bin/jupyter lab --ip=$(LAB_HOST) --port=$(LAB_PORT) --no-browser --notebook-dir=notebooks $(ROOT_FLAG) \
	    $(PUBLIC_FLAGS) $(LAB_FLAGS)

# `make lab` in the background, for a cloud IDE's start step (.devcontainer/devcontainer.json, .ona/automations.yaml,
# .gitpod.yml): idempotent (a JupyterLab already answering on LAB_PORT is left alone), its log in
# build/jupyterlab.log, and it prints the address to open, token included. `make lab-url` prints it again. In the
# background JupyterLab takes LAB_PORT or fails (no silent move to the next port, which nothing forwards).
SUBMAKE := $(MAKE)
LAB_LOG ?= build/jupyterlab.log
lab-background: $(STAMP)
	@$(PY) tools/jupyterlab.py start $(LAB_PORT) --log $(LAB_LOG) -- \
	    $(SUBMAKE) --no-print-directory lab LAB_FLAGS=--ServerApp.port_retries=0

lab-url: $(STAMP)
	@$(PY) tools/jupyterlab.py url $(LAB_PORT)

# Stops what `make lab` started: JupyterLab on LAB_PORT, then the local cloud.
lab-stop: $(STAMP)
	-@$(VENV)/bin/jupyter server stop $(LAB_PORT)
	$(PY) -m lab_app.localcloud stop

# The fast static checks (under a minute): notebook pairs agree, no outputs, ruff, the secret scan.
check: $(STAMP)
	$(PY) tools/notebooks.py check
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb
	$(VENV)/bin/ruff check
	$(PY) -m pytest -q -p no:nbval tests/test_secrets_scan.py

# After editing a notebook (its .py source in an editor, or the .ipynb in JupyterLab): pair, navigate, strip.
notebooks: $(STAMP)
	$(PY) tools/notebooks.py sync

# -p no:nbval: nbval's plugin imports Jupyter's stack (about 3 s per process, and xdist starts three) and only the
# notebook run below needs it.
test: check
	$(PY) -m pytest -q -p no:nbval -n 2 --dist loadfile tests --ignore=tests/test_secrets_scan.py
	rm -rf build/test-lab
	$(TEST_ENV) $(VENV)/bin/python -m pytest -q --nbval-lax notebooks

# Every notebook executed into build/*.html. The local cloud the notebooks start is stopped afterwards, unless it
# was already running before (then it is yours, and it keeps running).
workbook: $(STAMP)
	mkdir -p build
	@if $(PY) -m lab_app.localcloud status >/dev/null 2>&1; then was_running=yes; else was_running=; fi; \
	$(VENV)/bin/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 --output-dir build notebooks/*.ipynb; \
	status=$$?; \
	if [ -z "$$was_running" ]; then $(PY) -m lab_app.localcloud stop >/dev/null && echo "stopped the local cloud the notebooks started"; \
	else echo "the local cloud was running before: left running (stop it with: $(PY) -m lab_app.localcloud stop)"; fi; \
	exit $$status

# "No data?": each pillar checked end to end in the current mode (config, reachable, key, a probe read back).
doctor: $(STAMP)
	$(PY) -m lab_app.doctor

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# After auditing a new finding (a documented dummy, never a real key): regenerate the baseline the test compares with.
secrets-baseline: $(STAMP)
	$(VENV)/bin/detect-secrets scan --exclude-files '(\.venv|\.lab|build)/' > .secrets.baseline

clean:
	rm -rf $(VENV) build .lab
