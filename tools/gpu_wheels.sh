#!/usr/bin/env bash
# The OpenMMLab wheels a GPU machine without network lacks, for tools/gpu_benchmark.sh and
# tools/gpu_sweep.sh (pure-Python wheels, the versions this project is tested with):
#
#   bash tools/gpu_wheels.sh --prepare DIR   # here, with PyPI access: download them into DIR
#   bash tools/gpu_wheels.sh --install DIR   # there: install those whose distribution it lacks
#
# --install does nothing if the Python imports mmengine, mmcv and mmpretrain already (a Python
# with the project's environment is not touched), never installs mmcv-lite next to a full mmcv,
# and leaves timm to its user (the benchmark puts timm 0.3.2 apart for the released code).
# PYTHON selects the interpreter (default: python).
set -euo pipefail
PYTHON=${PYTHON:-python}
WHEELS_PINNED="mmengine==0.10.7 mmcv-lite==2.1.0 mmpretrain==1.2.0 timm==0.3.2 addict==2.4.0
yapf==0.43.0 termcolor==3.3.0 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 Pygments==2.21.0
einops==0.8.2 modelindex==0.0.2 mat4py==0.6.0 ordered-set==4.1.0 platformdirs==4.14.9
importlib_metadata==10.2.0 zipp==4.1.2"

[[ $# -eq 2 && ( $1 == --prepare || $1 == --install ) ]] || {
    echo "usage: $0 --prepare DIR | --install DIR" >&2; exit 2; }
if [[ $1 == --prepare ]]; then
    # shellcheck disable=SC2086
    "$PYTHON" -m pip wheel --no-deps --wheel-dir "$2" $WHEELS_PINNED
    exit 0
fi

MISSING=$("$PYTHON" - "$2" <<'PY'
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
    echo "installing from $2:" $MISSING
    # shellcheck disable=SC2086
    "$PYTHON" -m pip install --no-index --no-deps --quiet $MISSING
fi
