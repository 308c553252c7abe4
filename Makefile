# The two commands of README: `make demo` and `make test`. Each first runs the idempotent set-up
# (tools/setup_env.sh: venv, pinned packages, mmcv build, this package, demo data).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/sdae_vit-tiny_fashion-mnist_demo.py
PYTEST_ARGS ?=

.PHONY: setup demo test
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir work_dirs/demo

test:
	SKIP_DATA=1 bash tools/setup_env.sh
	$(PY) -m pytest $(PYTEST_ARGS)
