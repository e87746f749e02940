#!/usr/bin/env bash
# Train the shipped edges2shoes translator (edge map -> shoe photo) on CPU, as a user would.
#
#   bash tools/ship/train_edges2shoes.sh data    # the splits below (hard links, nothing copied)
#   bash tools/ship/train_edges2shoes.sh train   # pix2pix, BtoA (runs/edges2shoes-edges2photo)
#
# Data: paired/edges2shoes/train (1000 A|B images, A = photo, B = edge map). Its files whose number
# is a multiple of 10 (100) are the validation split (runs/edges2shoes/val), the other 900 the
# training split (runs/edges2shoes/train). paired/edges2shoes/val (100, never trained or selected on)
# is the test split, used once for the final score (tools/ship/eval_edges2shoes.sh).
#
# Network and options as the facades translators (tools/ship/train_facades.sh): U-Net 256, ngf 16,
# instance norm (6.8 MB as float16), one thread; 4 + 3 epochs (6300 iterations): the shipped run took
# 36 minutes (0.24-0.47 s per iteration) on the 2-core development CPU shared with other work.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=.venv/bin/translate

make_data() {
  local src="$DATA/paired/edges2shoes/train" out="$RUNS/edges2shoes"
  mkdir -p "$out/train" "$out/val"
  for f in "$src"/*.jpg; do
    local n; n=$(basename "$f" _AB.jpg)
    if [ $((10#$n % 10)) -eq 0 ]; then ln -f "$f" "$out/val/"; else ln -f "$f" "$out/train/"; fi
  done
}

case "${1:-}" in
  data) make_data ;;
  train)
    make_data
    run="$RUNS/edges2shoes-edges2photo"
    if [ -f "$run/checkpoints/latest.pt" ]; then exec $T train --resume "$run"; fi
    exec $T train pix2pix --data "$RUNS/edges2shoes" --out "$run" --direction BtoA \
        --netG unet_256 --ngf 16 --ndf 32 --norm instance --epochs 4 --epochs-decay 3 \
        --val-every 1800 --val-max-images 50 --workers 1 --device cpu --print-every 100 --sample-every 1000 \
        --save-every 500 --save-every-epochs 0 --seed 0 ;;
  *) echo "usage: bash tools/ship/train_edges2shoes.sh data|train" >&2; exit 2 ;;
esac
