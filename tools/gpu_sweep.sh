#!/usr/bin/env bash
# The gpu preset of the miniature sweep (projects/mini_sweep) in one call on a GPU machine
# without network:
#
#   bash tools/gpu_sweep.sh --wheels DIR --data DIR --out-dir OUT [reproduce_mini options]
#
# 1. Installs the OpenMMLab wheels the machine lacks (tools/gpu_wheels.sh --install DIR).
# 2. Puts Fashion-MNIST into $DATA_ROOT (default data/fashion_mnist) from DIR (the four idx
#    files, plain or .gz), unless they are there.
# 3. Runs `tools/reproduce_mini.py --preset gpu` (options after the three above override the
#    preset's, e.g. --device cpu --amp fp32 --eval-amp fp32 --epochs 2 --subset 2048 for a CPU
#    dry run) with its work dir in $WORK (default work_dirs/gpu).
# 4. Leaves in OUT, also when the sweep stops early (the sweep resumes from $WORK): the report
#    results_mini_gpu.md and its plot, results.json, and logs.tar.gz (every stage's log).
#
# Prepare here, with PyPI access: `bash tools/gpu_wheels.sh --prepare DIR`; the data as
# tools/fetch_fashion_mnist.sh puts it (gzip the idx files to carry ~31 MB instead of 53 MB).
# PYTHON selects the interpreter (default: python).
set -euo pipefail
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-work_dirs/gpu}
DATA_ROOT=${DATA_ROOT:-data/fashion_mnist}
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
       t10k-labels-idx1-ubyte)

WHEELS='' DATA='' OUT=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --wheels) WHEELS=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --out-dir) OUT=$2; shift 2 ;;
        *) break ;;
    esac
done
if [[ -z $WHEELS || -z $DATA || -z $OUT ]]; then
    echo "usage: $0 --wheels DIR --data DIR --out-dir OUT [reproduce_mini options]" >&2
    exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$SECONDS
PYTHON=$PYTHON bash "$ROOT/tools/gpu_wheels.sh" --install "$WHEELS"

cd "$ROOT"
mkdir -p "$DATA_ROOT"
for f in "${FILES[@]}"; do
    if [[ -s $DATA_ROOT/$f ]]; then continue; fi
    if [[ -s $DATA/$f ]]; then cp "$DATA/$f" "$DATA_ROOT/"
    elif [[ -s $DATA/$f.gz ]]; then gunzip -c "$DATA/$f.gz" > "$DATA_ROOT/$f"
    else echo "no $f or $f.gz in $DATA" >&2; exit 2
    fi
done
echo "installed and data ready in $((SECONDS - START)) s"

collect() {
    [[ -f $WORK/results.json ]] && cp "$WORK/results.json" "$OUT/"
    [[ -d $WORK/logs ]] && tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs
    echo "sweep call ended after $((SECONDS - START)) s; results in $OUT"
}
trap collect EXIT
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" tools/reproduce_mini.py --preset gpu \
    --data-root "$DATA_ROOT" --work-dir "$WORK" --out "$OUT/results_mini_gpu.md" "$@"
