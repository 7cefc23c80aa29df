# mtbert course — the two commands a user needs: `make lab` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.mtbert-installed
# nbgrader runs `alembic` and the kernels from the venv: put its bin/ first.
export PATH := $(BIN):$(PATH)
# The course never downloads at test time; a hub model is used only when you ask for one (see README).
TEST_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 MPLBACKEND=Agg
ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))
ASSIGNMENT ?=
PYTEST_ARGS ?=
LAB_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup lab site browser test test-full test-unit release lock collect autograde feedback grades flags clean-grading bench setup-sandbox hub test-hub

help:
	@echo "make lab        set up .venv if missing, then start JupyterLab on the course"
	@echo "make test       set up .venv if missing, then run the whole test suite (offline)"
	@echo "make lab INSTRUCTOR=1   JupyterLab with the instructor panels (Create Assignment, formgrader)"
	@echo "make site       build the course website into site/build/html (SOLUTIONS=1: with the solutions)"
	@echo "make browser    install Debian's chromium for the browser tests (as root; CI does it)"
	@echo "make test-full  the whole suite plus every solution notebook executed at full size (slow on a CPU)"
	@echo "make test-unit  only the fast unit tests (no notebook execution, no nbgrader)"
	@echo "make release    regenerate notebooks/ (student versions) from solutions/ with nbgrader"
	@echo "make collect ASSIGNMENT=00_bert_anatomy FROM=downloads.zip   LMS bulk download (Canvas, Moodle, or a folder) into submitted/"
	@echo "make autograde ASSIGNMENT=00_bert_anatomy [JOBS=2]   autograde submitted/*/<assignment>, each in a bubblewrap sandbox"
	@echo "make setup-sandbox                           install bubblewrap (the autograde sandbox) if missing"
	@echo "make feedback ASSIGNMENT=...                 feedback HTML into feedback/"
	@echo "make grades                                  export grades.csv from gradebook.db (and flags.csv)"
	@echo "make flags                                   what the autograder flagged or repaired, per cell and line"
	@echo "make bench      measure the course's speed side by side (benchmarks/RESULTS.md)"
	@echo "make lock       rewrite requirements.txt from the current .venv (after changing a pin)"
	@echo "make hub        (as root) the classroom: JupyterHub with local users and nbgrader's exchange (docs/DEPLOY.md)"
	@echo "make test-hub   (as root) the classroom end to end through the hub: release, submit, autograde, feedback"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install --disable-pip-version-check "$$(grep -E '^torch==' requirements.txt)"
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mtbert)"
	@touch $@

setup: $(STAMP)

# Jupyter refuses to start as root unless told; containers and CI often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# Students get nbgrader's Assignment List and Validate button, not the instructor's panels (Create Assignment,
# formgrader): lab/student/ switches those off. `make lab INSTRUCTOR=1` serves the instructor's JupyterLab.
INSTRUCTOR ?= 0
LAB_DIR ?= .
LAB_ENV := $(if $(filter 1,$(INSTRUCTOR)),,JUPYTER_CONFIG_PATH="$(abspath lab/student)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))")

lab: setup
	$(LAB_ENV) $(BIN)/jupyter lab --notebook-dir="$(LAB_DIR)" $(ROOT_FLAG) $(LAB_ARGS)

# The course as a static website (site/README.md): Sphinx + myst-nb, built offline from notebooks/ with outputs from
# running the reference in fast mode. `make site SOLUTIONS=1` is the self-study build that also shows the solutions.
SOLUTIONS ?= 0
SITE_OUT ?= site/build/$(if $(filter 1,$(SOLUTIONS)),html-solutions,html)

site: setup
	$(TEST_ENV) $(PY) site/build.py --out "$(SITE_OUT)" $(if $(filter 1,$(SOLUTIONS)),--solutions,)

# Debian's chromium for the browser tests (tests/site/, tests/test_lab.py); Playwright drives it, no browser download.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) && echo "chromium: $(CHROMIUM)" || { test "$$(id -u)" = 0 || { echo "chromium is missing: run 'sudo apt-get install chromium' (Debian/Ubuntu)"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null && echo "installed $$($(CHROMIUM) --version)"; }

test: setup
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

test-full: setup
	$(TEST_ENV) $(PY) -m pytest -m "" $(PYTEST_ARGS)

test-unit: setup
	$(TEST_ENV) $(PY) -m pytest -m "not slow and not fullsize" $(PYTEST_ARGS)

release: setup
	@for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment "$$a" --force || exit 1; done

lock: setup
	@{ sed -n '1,3p' requirements.txt; $(PY) -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/'; } > requirements.txt.new
	@mv requirements.txt.new requirements.txt && echo "requirements.txt rewritten"

# --- grading (docs/INSTRUCTOR_GUIDE.md) ---
# collect: FROM is an LMS bulk-download zip (Canvas, Moodle), a folder of them, or a folder of <student>.ipynb /
# <student>/<any>.ipynb; nbgrader zip_collect does the rest with scripts/instructor/lms.py (LMS=auto|canvas|moodle|plain).
LMS ?= auto
JOBS ?= 1
# Every submission runs in a bubblewrap sandbox (scripts/instructor/sandbox.py). MTBERT_SANDBOX=off grades without it:
# student code then runs with your rights, next to gradebook.db — only for code you trust.
MTBERT_SANDBOX ?= on
export MTBERT_SANDBOX

setup-sandbox:
	@if command -v bwrap >/dev/null 2>&1; then echo "bubblewrap: $$(command -v bwrap) ($$(bwrap --version))"; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap && bwrap --version; \
	else echo "install bubblewrap: sudo apt-get install bubblewrap (Debian/Ubuntu), sudo dnf install bubblewrap (Fedora)"; exit 1; fi

collect: setup
	@test -n "$(ASSIGNMENT)" -a -n "$(FROM)" || (echo "usage: make collect ASSIGNMENT=00_bert_anatomy FROM=path/to/download.zip [LMS=canvas|moodle|plain]" && exit 2)
	$(PY) scripts/instructor/lms.py "$(ASSIGNMENT)" "$(FROM)" --lms "$(LMS)"

# nbgrader grades an assignment only once gradebook.db knows it (its notebooks, graded cells and points), which
# `nbgrader generate_assignment` records. A fresh clone has no gradebook.db, so the first autograde of an assignment
# runs it (from solutions/; it rewrites notebooks/ identically while the two are in sync, as the round-trip test checks).
autograde: setup
	@test -n "$(ASSIGNMENT)" || (echo "usage: make autograde ASSIGNMENT=00_bert_anatomy [JOBS=2]" && exit 2)
	@test -d "solutions/$(ASSIGNMENT)" || (echo "no solutions/$(ASSIGNMENT); ASSIGNMENT is one of: $(ASSIGNMENTS)" && exit 2)
	@$(BIN)/nbgrader db assignment list 2>/dev/null | grep -qx "$(ASSIGNMENT) (due: .*)" || { \
	  echo "$(ASSIGNMENT) is not in gradebook.db yet: running nbgrader generate_assignment $(ASSIGNMENT) --force first"; \
	  $(BIN)/nbgrader generate_assignment "$(ASSIGNMENT)" --force --log-level=WARN || exit 1; }
	@$(PY) scripts/instructor/sandbox.py check
	$(TEST_ENV) $(PY) scripts/instructor/parallel.py "$(ASSIGNMENT)" --jobs "$(JOBS)"; status=$$?; \
	  $(PY) scripts/instructor/flags.py; exit $$status

feedback: setup
	@test -n "$(ASSIGNMENT)" || (echo "usage: make feedback ASSIGNMENT=00_bert_anatomy" && exit 2)
	$(BIN)/nbgrader generate_feedback "$(ASSIGNMENT)" --force

grades: setup
	$(BIN)/nbgrader export --to grades.csv && echo "wrote grades.csv"
	@$(PY) scripts/instructor/flags.py

# Everything the autograder flagged (tampering, kernel deaths) or repaired (copy/paste, stripped metadata): flags.csv
flags: setup
	$(PY) scripts/instructor/flags.py

clean-grading:
	rm -rf submitted autograded feedback gradebook.db grades.csv flags.csv

bench: setup
	$(TEST_ENV) $(PY) benchmarks/run_all.py $(BENCH_ARGS)

# --- the classroom hub (docs/DEPLOY.md) ---
# JupyterHub (requirements-hub.txt) in the course venv, its proxy from npm into HUB_NODE, local Unix users, nbgrader's
# exchange and the instructor's course directory (scripts/hub/setup.py), then the hub in the foreground. As root.
HUB_DIR ?= .hub
HUB_NODE ?= .hub/node
HUB_URL ?= http://127.0.0.1:8000
HUB_INSTRUCTOR ?= instructor
HUB_STUDENTS ?= student1 student2
HUB_EXCHANGE ?= /srv/nbgrader/exchange
HUB_ARGS ?=
HUB_TRAVERSE ?= 0
CHP_VERSION := 5.3.0

$(VENV)/.mtbert-hub-installed: requirements-hub.txt $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -r requirements-hub.txt
	@touch $@

$(HUB_NODE)/.chp-$(CHP_VERSION):
	npm install --no-audit --no-fund --prefix "$(HUB_NODE)" configurable-http-proxy@$(CHP_VERSION)
	@touch $@

hub: $(VENV)/.mtbert-hub-installed $(HUB_NODE)/.chp-$(CHP_VERSION)
	@test "$$(id -u)" = 0 || { echo "make hub creates Unix users and runs each user's server as that user: run it as root"; exit 1; }
	$(PY) scripts/hub/setup.py --state "$(HUB_DIR)" --instructor "$(HUB_INSTRUCTOR)" --students $(HUB_STUDENTS) --exchange "$(HUB_EXCHANGE)" \
	  $(if $(filter 1,$(HUB_TRAVERSE)),--traverse,)
	cd "$(HUB_DIR)" && PATH="$(abspath $(HUB_NODE))/node_modules/.bin:$$PATH" MTBERT_HUB_STATE="$(abspath $(HUB_DIR))" \
	  MTBERT_HUB_URL="$(HUB_URL)" $(BIN)/jupyterhub -f "$(abspath scripts/hub/jupyterhub_config.py)" $(HUB_ARGS)

test-hub: $(VENV)/.mtbert-hub-installed $(HUB_NODE)/.chp-$(CHP_VERSION)
	MTBERT_HUB_E2E=1 $(TEST_ENV) $(PY) -m pytest tests/hub -m slow $(PYTEST_ARGS)
