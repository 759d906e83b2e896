# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test setup browser lint deps schema clean

run: setup ## set up, migrate, build the demo project, run web + worker + beat
	$(PY) manage.py up

test: setup browser ## set up and run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "chromium is not installed: browser tests will be skipped"; fi; }

lint: setup deps
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

# Every third-party import is a declared runtime dependency and every one is used
# ([tool.deptry] in pyproject.toml): what production imports, the Docker image installs.
deps: setup
	$(VENV)/bin/deptry .

schema: setup
	$(PY) manage.py spectacular --file schema.yml --validate

clean:
	rm -rf $(VENV) var
