#!/usr/bin/env bash
# The GPU benchmark in one call (about 5 minutes on an H200 with ViT-B/16, bf16):
#
#   bash tools/gpu_benchmark.sh --wheels DIR --released-code PATH --out-dir OUT [suite options]
#
# 1. Installs what the machine lacks from wheels prepared beforehand (never from the network):
#    - mmengine, mmcv-lite, mmpretrain and their small pure-Python dependencies, into the
#      machine's Python, only if it cannot import mmengine, mmcv and mmpretrain, and then only
#      the distributions it lacks (tools/gpu_wheels.sh --install);
#    - timm 0.3.2 for the released code, always into OUT/timm032 (never next to another timm).
# 2. Runs tools/benchmark_suite.py (check against the released code on the device, benchmark
#    rows at --batch and at the largest batch that fits, OUT/suite.json and OUT/suite.md;
#    projects/benchmark/) with this checkout on PYTHONPATH. Options after the three above go to
#    the suite (e.g. --device cpu --arch small --img-size 64 --batch 2 --max-batch 4 for a CPU
#    dry run).
#
# Prepare the wheels on a machine with PyPI access (pure-Python wheels, the versions this
# project is tested with; copy DIR, the released checkout and this checkout to the GPU machine):
#
#   bash tools/gpu_benchmark.sh --prepare DIR
#
# PYTHON selects the interpreter (default: python).
set -euo pipefail
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --prepare ]]; then
    exec bash "$ROOT/tools/gpu_wheels.sh" "$@"
fi

WHEELS='' RELEASED='' OUT=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --wheels) WHEELS=$2; shift 2 ;;
        --released-code) RELEASED=$2; shift 2 ;;
        --out-dir) OUT=$2; shift 2 ;;
        *) break ;;
    esac
done
if [[ -z $WHEELS || -z $RELEASED || -z $OUT ]]; then
    echo "usage: $0 --wheels DIR --released-code PATH --out-dir OUT [suite options]" >&2
    exit 2
fi
mkdir -p "$OUT"
START=$SECONDS

# the OpenMMLab wheels this Python lacks (none if it has the stack); timm 0.3.2 apart, below
PYTHON=$PYTHON bash "$ROOT/tools/gpu_wheels.sh" --install "$WHEELS"
TIMM_WHEEL=$(ls "$WHEELS"/timm-0.3.2-*.whl)
"$PYTHON" -m pip install --no-index --no-deps --quiet --upgrade --target "$OUT/timm032" \
    "$TIMM_WHEEL"
echo "installed in $((SECONDS - START)) s"

cd "$ROOT"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" tools/benchmark_suite.py \
    --released-code "$RELEASED" --released-timm "$OUT/timm032" --out-dir "$OUT" "$@"
echo "suite finished in $((SECONDS - START)) s"
