#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: virtual environment, pinned packages (mmcv compiled with
# its CPU ops), this package in editable mode, and the Fashion-MNIST demo data.
#
# Every step is skipped when its result is already there, so a second call costs seconds.
# Environment variables:
#   VENV        where the virtual environment lives (default: .venv in the repository root)
#   PYTHON      the interpreter used to create it (default: python3)
#   SKIP_DATA=1 do not set up data/fashion_mnist
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
C="$ROOT/requirements/constraints.txt"
PIP="$VENV/bin/pip"
log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# pip install, without the warnings that a machine-wide pip.conf pointing at missing local
# indexes prints for every package (pip's own exit status is kept by pipefail).
pip_install() {
  "$PIP" install "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

# A stamp records which pins and which package metadata the environment was built from.
STAMP="$VENV/.sdae-setup-$(cat "$C" setup.py requirements/*.txt | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ]; then
  log "environment $VENV is up to date"
else
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  log "1/5 torch, torchvision, numpy, setuptools (pinned)"
  pip_install -q -c "$C" torch torchvision numpy setuptools wheel
  log "2/5 mmcv build requirements and runtime deps"
  pip_install -q -c "$C" ninja mmengine opencv-python
  if "$VENV/bin/python" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    log "3/5 mmcv with ops already installed"
  else
    # mmcv has no wheels on PyPI: built from source once (13-20 min on 2 cores), then reused from
    # pip's wheel cache. --no-build-isolation is required: the build must see the pinned torch.
    log "3/5 mmcv with compiled CPU ops (first time: ~15-20 min; later: pip's wheel cache)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" pip_install -q --no-build-isolation -c "$C" mmcv
  fi
  log "4/5 mmpretrain, mmdet, mmsegmentation, openmim, test tools"
  pip_install -q -c "$C" -r requirements/runtime.txt -r requirements/tests.txt
  log "5/5 this package (editable)"
  pip_install -q --no-deps --no-build-isolation -e .
  "$VENV/bin/python" -c "import mmcv.ops, mmpretrain, mmdet, mmseg, sdae_plugin" \
    || { log "import check failed"; exit 1; }
  rm -f "$VENV"/.sdae-setup-*
  touch "$STAMP"
  log "environment ready"
fi

if [ "${SKIP_DATA:-0}" != "1" ]; then
  bash "$ROOT/tools/fetch_fashion_mnist.sh" "$ROOT/data/fashion_mnist"
fi
