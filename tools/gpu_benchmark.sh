#!/usr/bin/env bash
# The GPU benchmark of issue 15 in one call (about 5 minutes on an H200 with ViT-B/16, bf16):
#
#   bash tools/gpu_benchmark.sh --wheels DIR --released-code PATH --out-dir OUT [suite options]
#
# 1. Installs what the machine lacks from wheels prepared beforehand (never from the network):
#    - mmengine, mmcv-lite, mmpretrain and their small pure-Python dependencies, into the
#      machine's Python, only if it cannot import mmengine, mmcv and mmpretrain, and then only
#      the distributions it lacks (a Python that has the project's environment is not touched);
#    - timm 0.3.2 for the released code, always into OUT/timm032 (never next to another timm).
# 2. Runs tools/benchmark_suite.py (check against the released code on the device, benchmark
#    rows at --batch and at the largest batch that fits, OUT/suite.json and OUT/suite.md) with
#    this checkout on PYTHONPATH. Options after the three above go to the suite
#    (e.g. --device cpu --arch small --img-size 64 --batch 2 --max-batch 4 for a CPU dry run).
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
WHEELS_PINNED="mmengine==0.10.7 mmcv-lite==2.1.0 mmpretrain==1.2.0 timm==0.3.2 addict==2.4.0
yapf==0.43.0 termcolor==3.3.0 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 Pygments==2.21.0
einops==0.8.2 modelindex==0.0.2 mat4py==0.6.0 ordered-set==4.1.0 platformdirs==4.14.9
importlib_metadata==10.2.0 zipp==4.1.2"

if [[ ${1:-} == --prepare ]]; then
    [[ $# -eq 2 ]] || { echo "usage: $0 --prepare DIR" >&2; exit 2; }
    # shellcheck disable=SC2086
    "$PYTHON" -m pip wheel --no-deps --wheel-dir "$2" $WHEELS_PINNED
    exit 0
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

# Nothing if this Python has the OpenMMLab stack; else every wheel in WHEELS whose
# distribution it lacks (timm aside: see below; mmcv-lite not next to a full mmcv).
MISSING=$("$PYTHON" - "$WHEELS" <<'PY'
import sys
from importlib import metadata
from pathlib import Path
try:
    import mmcv, mmengine, mmpretrain  # noqa: F401
    sys.exit(0)
except ImportError:
    pass
for wheel in sorted(Path(sys.argv[1]).glob('*.whl')):
    name = wheel.name.split('-')[0].lower().replace('_', '-')
    for dist in {'timm': [], 'mmcv-lite': ['mmcv-lite', 'mmcv']}.get(name, [name]):
        try:
            metadata.version(dist)
            break
        except metadata.PackageNotFoundError:
            pass
    else:
        if name != 'timm':
            print(wheel)
PY
)
if [[ -n $MISSING ]]; then
    echo "installing from $WHEELS:" $MISSING
    # shellcheck disable=SC2086
    "$PYTHON" -m pip install --no-index --no-deps --quiet $MISSING
fi
TIMM_WHEEL=$(ls "$WHEELS"/timm-0.3.2-*.whl)
"$PYTHON" -m pip install --no-index --no-deps --quiet --upgrade --target "$OUT/timm032" \
    "$TIMM_WHEEL"
echo "installed in $((SECONDS - START)) s"

cd "$ROOT"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" tools/benchmark_suite.py \
    --released-code "$RELEASED" --released-timm "$OUT/timm032" --out-dir "$OUT" "$@"
echo "suite finished in $((SECONDS - START)) s"
