#!/usr/bin/env bash
# Reproduces weights/sat2mask.safetensors: a small pix2pix (unet_256, ngf 16) trained on
# ../shared/data/paired/sat2mask/train only (val and test are never trained on).
# Measured: ~25 min on the 2-core CPU development machine (see README, model zoo).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/sat2mask}
.venv/bin/translate train pix2pix --data ../shared/data/paired/sat2mask --out "$RUN" \
  --netG unet_256 --ngf 16 --ndf 16 --epochs 5 --epochs-decay 4 --seed 0 --workers 1 --device cpu \
  --print-every 50 --sample-every 500 --save-every 250 "$@"
.venv/bin/python tools/ship_model.py "$RUN/checkpoints/latest.pt" sat2mask \
  --description "pix2pix satellite image -> binary mask, unet_256 ngf 16, trained 9 epochs on sat2mask/train"
