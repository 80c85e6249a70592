# Developer tasks. `make test` is the README's test command and what CI runs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install test lint format demo bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy aggregator

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: install
	$(BIN)/aggregator run --demo

bench: install
	$(BIN)/python bench/parse_speed.py
	$(BIN)/python bench/tagging_accuracy.py ../shared/eval-dev/dev.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
