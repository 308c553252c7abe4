#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: virtual environment, pinned packages of one install
# profile, this package in editable mode, and the Fashion-MNIST demo data.
#
# Profiles (never both mmcv flavours in one environment):
#   pretrain  mmcv-lite (pure Python, no compiled ops) and MMPretrain: SdAE/MAE pretraining, the
#             demo, kNN, pictures, backbone extraction. Wheels only.
#   full      mmcv built from source with its CPU ops (10-20 min once on 2 cores, then pip's wheel
#             cache), MMDetection, MMSegmentation, openmim and the test tools: transfer, mim and
#             the test suite.
# Every step is skipped when its result is already there, so a second call costs seconds; a
# different PROFILE switches the environment (the stamp file records the profile).
# Environment variables:
#   PROFILE     pretrain | full (default: the profile the environment has, else pretrain)
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
# indexes prints for every package (pip's own exit status is kept by pipefail). --no-compile:
# Python writes the bytecode of the modules a program imports when it imports them, instead of pip
# compiling every file of torch and the rest up front.
pip_install() {
  "$PIP" install --no-compile "$@" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}
installed() { "$PIP" show -q "$1" >/dev/null 2>&1; }
uninstall_if_present() {
  local present=()
  for name in "$@"; do installed "$name" && present+=("$name"); done
  if [ ${#present[@]} -gt 0 ]; then
    log "removing ${present[*]} (other profile)"
    "$PIP" uninstall -y -q "${present[@]}"
  fi
}

# Without PROFILE, keep the environment's profile: compiled mmcv installed means full.
if [ -z "${PROFILE:-}" ]; then
  if installed mmcv; then PROFILE=full; else PROFILE=pretrain; fi
fi
case "$PROFILE" in
  pretrain|full) ;;
  *) log "PROFILE=$PROFILE: use PROFILE=pretrain (mmcv-lite) or PROFILE=full (compiled mmcv)"
     exit 2 ;;
esac
# The stamp records the profile and which pins and package metadata the environment was built from.
STAMP="$VENV/.sdae-setup-$PROFILE-$(cat "$C" setup.py requirements/*.txt | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ]; then
  log "environment $VENV ($PROFILE profile) is up to date"
else
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  log "profile: $PROFILE"
  log "1/5 torch, torchvision, numpy, setuptools (pinned)"
  pip_install -q -c "$C" torch torchvision numpy setuptools wheel
  log "2/5 mmengine, opencv"
  pip_install -q -c "$C" mmengine opencv-python
  if [ "$PROFILE" = pretrain ]; then
    uninstall_if_present mmdet mmsegmentation mmcv
    log "3/5 mmcv-lite (no compiled ops)"
    pip_install -q -c "$C" -r requirements/pretrain.txt
    log "4/5 mmpretrain"
    pip_install -q -c "$C" -r requirements/runtime.txt
    CHECK="import mmcv, mmpretrain, sdae_plugin"
  else
    uninstall_if_present mmcv-lite
    if "$VENV/bin/python" -c "import mmcv, mmcv.ops" 2>/dev/null; then
      log "3/5 mmcv with ops already installed"
    else
      # mmcv has no wheels on PyPI: built from source once (10-20 min on 2 cores), then reused
      # from pip's wheel cache. --no-build-isolation: the build must see the pinned torch.
      log "3/5 mmcv with compiled CPU ops (first time: 10-20 min; later: pip's wheel cache)"
      pip_install -q -c "$C" ninja
      MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" pip_install -q --no-build-isolation -c "$C" mmcv
    fi
    log "4/5 mmpretrain, mmdet, mmsegmentation, openmim, test tools"
    pip_install -q -c "$C" -r requirements/runtime.txt -r requirements/det.txt \
      -r requirements/seg.txt -r requirements/mim.txt -r requirements/tests.txt
    CHECK="import mmcv.ops, mmpretrain, mmdet, mmseg, sdae_plugin"
  fi
  log "5/5 this package (editable)"
  pip_install -q --no-deps --no-build-isolation -e .
  "$VENV/bin/python" -c "$CHECK" || { log "import check failed: $CHECK"; exit 1; }
  rm -f "$VENV"/.sdae-setup-*
  touch "$STAMP"
  log "environment ready ($PROFILE profile)"
fi

if [ "${SKIP_DATA:-0}" != "1" ]; then
  bash "$ROOT/tools/fetch_fashion_mnist.sh" "$ROOT/data/fashion_mnist"
fi
