#!/usr/bin/env bash
# The edges2shoes score in the README: the shipped `shoes-edges2photo` on paired/edges2shoes/val (100
# shoes, never trained or selected on: our test split), next to the edge map itself and nearest-
# neighbour retrieval of the photo of the closest training edge map (the 900 training pairs of
# tools/ship/train_edges2shoes.sh). VAL=1 scores runs/edges2shoes/val (the validation split carved out
# of the training folder) instead. Add --json for machine-readable output.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
T=.venv/bin/translate
MODEL=${MODEL:-shoes-edges2photo}
if [ "${VAL:-0}" = 1 ]; then SPLIT="$RUNS/edges2shoes/val"; else SPLIT="$DATA/paired/edges2shoes/val"; fi
$T eval translation --model "$MODEL" --data "$SPLIT" --train-data "$RUNS/edges2shoes/train" --summary --device cpu "$@"
