#!/usr/bin/env bash
# Ship the facades translators trained by tools/train_facades.sh: the last checkpoint of each run
# (the end of its learning-rate decay; no checkpoint was chosen on the test split), generator only,
# weights stored as float16 (loaded back into float32), model card with the facades palette for
# the photo -> labels direction. Then score them once with tools/eval_facades.sh.
set -euo pipefail
RUNS=${RUNS:-runs}
PY=.venv/bin/python
$PY tools/ship_model.py "$RUNS/facades-photo2label/checkpoints/latest.pt" facades-photo2label --fp16 \
    --palette facades --description "pix2pix U-Net 256 (ngf 16, instance norm): CMP facades photo -> label map \
(12 classes), trained by translate on 360 facades training pairs (tools/train_facades.sh)"
$PY tools/ship_model.py "$RUNS/facades-label2photo/checkpoints/latest.pt" facades-label2photo --fp16 \
    --description "pix2pix U-Net 256 (ngf 16, instance norm): CMP facades label map -> photo, trained by \
translate on 360 facades training pairs (tools/train_facades.sh)"
if [ "${SHIP_CYCLEGAN:-0}" = 1 ]; then
  $PY tools/ship_model.py "$RUNS/facades-cyclegan/checkpoints/latest.pt" facades-cyclegan-photo2label \
      --direction AtoB --fp16 --palette facades --description "CycleGAN ResNet 9 blocks (ngf 16): CMP facades \
photo -> label map, trained unpaired by translate on 360 facades photos and 360 label maps (tools/train_facades.sh)"
fi
