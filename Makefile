# The two set-up commands of README.md. Each installs what it needs, then runs.
VENV ?= $(CURDIR)/.venv
export VENV

.PHONY: setup test lint demo deb bench

setup:
	bash scripts/setup.sh

test: setup lint
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check pvc bench
	$(VENV)/bin/mypy pvc bench

# the demo installs only what it runs (scripts/setup.sh demo: libvirt, QEMU, ZooKeeper, the lab's tools)
demo:
	bash scripts/setup.sh demo
	$(VENV)/bin/python scripts/demo.py

# build/dist/pvc_VERSION_ARCH.deb (scripts/build-deb.sh; docs/install.md)
deb:
	bash scripts/setup.sh deb
	bash scripts/build-deb.sh

bench: setup
	$(VENV)/bin/python -m bench $(BENCH_ARGS)
