#!/usr/bin/env bash
# Ship the edges2shoes translator trained by tools/ship/train_edges2shoes.sh: the run's last checkpoint
# (the end of its learning-rate decay; nothing was chosen on the test split), generator only,
# weights stored as float16. Then score it once with tools/ship/eval_edges2shoes.sh.
set -euo pipefail
RUNS=${RUNS:-runs}
.venv/bin/python tools/ship/ship_model.py "$RUNS/edges2shoes-edges2photo/checkpoints/latest.pt" shoes-edges2photo --fp16 \
    --description "pix2pix U-Net 256 (ngf 16, instance norm): shoe edge map -> photo, trained by translate on 900 \
edges2shoes training pairs (tools/ship/train_edges2shoes.sh)"
