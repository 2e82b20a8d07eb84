# The README's commands. Everything runs from the project's own virtualenv, made on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCALE := chalicelib/web/locale
CATALOGS := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po))

AXE := tests/browser/node_modules/axe-core/axe.min.js
# The CloudFormation templates cfn-lint checks (make lint); the packaged SAM template can be added to it.
CFN_TEMPLATES := $(wildcard infra/*.yaml)

.PHONY: run test lint bench catalogs extract browser-deps system-deps clean deploy destroy package mutate

# make deploy / destroy / package (README, "Deploy to AWS"). Chalice gives the Lambda functions the
# runtime of the Python it runs on, and AWS has deprecated 3.11's: these run in a virtualenv of their own,
# on Python 3.12 or newer, with what the functions import and the chalice of requirements-dev.txt.
STAGE ?= dev
DEPLOY_PYTHON ?= python3.12
DEPLOY_VENV := .venv-deploy
DEPLOY_BIN := $(DEPLOY_VENV)/bin
DEPLOY_OPTIONS ?=
DEPLOY_ARGS = --stage $(STAGE) $(if $(REGION),--region $(REGION)) $(DEPLOY_OPTIONS)

$(BIN)/python: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/python

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po $(BIN)/python
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -l $* -D messages

catalogs: $(CATALOGS)

# axe-core for the accessibility tests, from npm at the version package-lock.json pins.
$(AXE): tests/browser/package.json tests/browser/package-lock.json | system-deps
	@command -v npm >/dev/null || { echo "npm is needed for the accessibility tests: apt-get install npm" >&2; exit 1; }
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $(AXE)

browser-deps: system-deps $(AXE)

# What the browser tests need from Debian: its chromium (browser downloads do not work here) and npm for
# axe-core. Installed when missing and make runs as root (a fresh machine, CI); otherwise the command to run.
SYSTEM_PACKAGES := chromium npm
system-deps:
	@missing="$$(for tool in $(SYSTEM_PACKAGES); do command -v $$tool >/dev/null 2>&1 || printf '%s ' $$tool; done)"; \
	missing="$${missing% }"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$missing (Debian packages the browser tests need)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "the browser tests need Debian's $$missing: sudo apt-get install $$missing" >&2; exit 1; \
	  fi; \
	fi

# Collect the texts of code and templates into the template catalogue, then into each language's.
extract: $(BIN)/python
	$(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages

# The data is kept in .make-run/ across restarts; `make run FRESH=1` starts empty.
run: $(BIN)/python catalogs
	$(BIN)/python -m chalicelib.local --state-dir .make-run $(if $(FRESH),--fresh)

lint: $(BIN)/python
	$(BIN)/ruff check app.py chalicelib tests bench infra
	$(BIN)/mypy
	$(BIN)/cfn-lint $(CFN_TEMPLATES)

test: $(BIN)/python catalogs browser-deps lint
	$(BIN)/python -m pytest

bench: $(BIN)/python catalogs
	$(BIN)/python -m bench

# Mutation testing (pyproject.toml [tool.mutmut]: signing, exporting, form tokens, headers, counting):
# prints the score per module and every surviving mutant not explained in tests/mutation_equivalents.txt.
# Results are kept in mutants/, so a second run tests only mutants of changed functions; MUTATE names
# mutants to test again, e.g. MUTATE="chalicelib.signing.*". Slow (signing: 0.7 mutants a second on the
# shared 2-core machine; counting slower): not part of make test or CI. The signing fuzz test runs
# MUTATE_FUZZ_EXAMPLES submissions instead of its 10,000, the counting property MUTATE_SCHEDULES
# schedules instead of 300: at full size they take a minute and half a minute for every surviving
# mutant they cover (hours in all). A mutant that makes a test loop fails after MUTATE_TEST_TIMEOUT
# seconds, not the suite's 300.
MUTATE ?=
MUTATE_FUZZ_EXAMPLES ?= 300
MUTATE_SCHEDULES ?= 50
MUTATE_TEST_TIMEOUT ?= 60
mutate: $(BIN)/python catalogs
	@# mutmut copies chalicelib into mutants/ once and never again: files it does not mutate (other
	@# modules, rules data) would stay as they were. -u copies what changed since; a mutated module that
	@# changed gets its source's time, so mutmut makes its mutants again.
	@if [ -d mutants/chalicelib ]; then cp -pRu chalicelib mutants/; fi
	HYPOTHESIS_SIGNING_EXAMPLES=$(MUTATE_FUZZ_EXAMPLES) HYPOTHESIS_COUNTING_EXAMPLES=$(MUTATE_SCHEDULES) \
	  PYTEST_TIMEOUT=$(MUTATE_TEST_TIMEOUT) $(BIN)/mutmut run --max-children 2 $(foreach module,$(MUTATE),'$(module)')
	$(BIN)/python -m tests.mutation_score

$(DEPLOY_BIN)/python: requirements.txt requirements-dev.txt
	@$(DEPLOY_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || { \
	  echo "make deploy, destroy and package need Python 3.12 or newer ($(DEPLOY_PYTHON) is missing or older):" >&2; \
	  echo "Chalice gives the Lambda functions the runtime of the Python it runs on, and 3.11's is deprecated." >&2; \
	  echo "Install one and name it, e.g.: make deploy DEPLOY_PYTHON=python3.13" >&2; exit 1; }
	$(DEPLOY_PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_BIN)/pip install --quiet --upgrade pip
	$(DEPLOY_BIN)/pip install --quiet -r requirements.txt "$$(grep -E '^chalice==' requirements-dev.txt)"
	touch $(DEPLOY_BIN)/python

# The data stack, the fingerprint key, chalice deploy, the stream mapping, the edge stack; prints the URL.
# REGION=eu-central-1 (else AWS_REGION or the profile's); DEPLOY_OPTIONS="--data-parameter Name=Value ...".
deploy: $(DEPLOY_BIN)/python
	$(DEPLOY_BIN)/pybabel -q compile -d $(LOCALE) -D messages
	$(DEPLOY_BIN)/python -m infra.deploy deploy $(DEPLOY_ARGS)

# Everything deploy made, but the data: it names what it keeps and how to remove it. YES=1: no question.
destroy: $(DEPLOY_BIN)/python
	$(DEPLOY_BIN)/python -m infra.deploy destroy $(DEPLOY_ARGS) $(if $(YES),--yes)

# For pipelines: dist/$(STAGE)/sam.json (chalice package, infra/stream-mapping.merge.json merged in) and
# the Lambda package; prints its size.
package: $(DEPLOY_BIN)/python
	$(DEPLOY_BIN)/pybabel -q compile -d $(LOCALE) -D messages
	$(DEPLOY_BIN)/python -m infra.deploy package $(DEPLOY_ARGS) --output dist/$(STAGE)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) dist mutants tests/browser/node_modules .pytest_cache .mypy_cache .ruff_cache $(CATALOGS)
