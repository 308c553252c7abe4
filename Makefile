# The two commands of README: `make demo` and `make test`. Each first runs the idempotent set-up
# (tools/setup_env.sh: venv, pinned packages of an install profile, this package, demo data).
# demo: the environment's profile, `pretrain` (mmcv-lite, wheels only) on a fresh machine.
# test: the `full` profile (compiled mmcv, MMDetection, MMSegmentation, test tools); the suite
#       also runs pretraining with mmcv's compiled ops made unimportable (tests/packaging/).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/sdae_vit-tiny_fashion-mnist_demo.py
PYTEST_ARGS ?=

.PHONY: setup demo test
setup:
	VENV=$(VENV) bash tools/setup_env.sh

demo: setup
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir work_dirs/demo

test:
	VENV=$(VENV) PROFILE=full SKIP_DATA=1 bash tools/setup_env.sh
	$(PY) -m pytest $(PYTEST_ARGS)
