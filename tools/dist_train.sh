#!/usr/bin/env bash
# Distributed training on one or more nodes: tools/dist_train.sh CONFIG GPUS [train.py options]
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR (as MMPretrain's script).
# On machines without GPUs use the gloo backend (the demo config sets it; otherwise add
# --cfg-options env_cfg.dist_cfg.backend=gloo): tools/train.py then starts the process group
# itself and wraps the model in a CPU DDP, which MMEngine 0.10.7 alone cannot do.
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
