# The two set-up commands of README.md. Each installs what it needs, then runs.
VENV ?= $(CURDIR)/.venv
export VENV

.PHONY: setup test lint demo bench

setup:
	bash scripts/setup.sh

test: setup lint
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check pvc
	$(VENV)/bin/mypy pvc

demo: setup
	$(VENV)/bin/python scripts/demo.py

bench: setup
	$(VENV)/bin/python -m bench $(BENCH_ARGS)
