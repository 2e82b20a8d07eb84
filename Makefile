# The README's commands. Everything runs from the project's own virtualenv, made on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCALE := chalicelib/web/locale
CATALOGS := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po))

AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: run test lint bench catalogs extract browser-deps clean

$(BIN)/python: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/python

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po $(BIN)/python
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -l $* -D messages

catalogs: $(CATALOGS)

# axe-core for the accessibility tests, from npm at the version package-lock.json pins.
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the accessibility tests: apt-get install npm" >&2; exit 1; }
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $(AXE)

browser-deps: $(AXE)

# Collect the texts of code and templates into the template catalogue, then into each language's.
extract: $(BIN)/python
	$(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages

run: $(BIN)/python catalogs
	$(BIN)/python -m chalicelib.local

lint: $(BIN)/python
	$(BIN)/ruff check app.py chalicelib tests bench
	$(BIN)/mypy

test: $(BIN)/python catalogs browser-deps lint
	$(BIN)/python -m pytest

bench: $(BIN)/python catalogs
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/browser/node_modules .pytest_cache .mypy_cache .ruff_cache $(CATALOGS)
