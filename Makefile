# The README's commands. Everything runs from the project's own virtualenv, made on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCALE := chalicelib/web/locale
CATALOGS := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po))

.PHONY: run test lint bench catalogs extract browser-deps clean

$(BIN)/python: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/python

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po $(BIN)/python
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -l $* -D messages

catalogs: $(CATALOGS)

# Collect the texts of code and templates into the template catalogue, then into each language's.
extract: $(BIN)/python
	$(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages

run: $(BIN)/python catalogs
	$(BIN)/python -m chalicelib.local

lint: $(BIN)/python
	$(BIN)/ruff check app.py chalicelib tests bench
	$(BIN)/mypy

test: $(BIN)/python catalogs lint
	$(BIN)/python -m pytest

bench: $(BIN)/python catalogs
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(CATALOGS)
