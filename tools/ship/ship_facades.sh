#!/usr/bin/env bash
# Ship the facades translators trained by tools/ship/train_facades.sh: the last checkpoint of each run
# (the end of its learning-rate decay; no checkpoint was chosen on the test split), generator only,
# weights stored as float16 (loaded back into float32), model card with the facades palette for
# the photo -> labels direction. Then score them once with tools/ship/eval_facades.sh.
set -euo pipefail
RUNS=${RUNS:-runs}
PY=.venv/bin/python
$PY tools/ship/ship_model.py "$RUNS/facades-photo2label/checkpoints/latest.pt" facades-photo2label --fp16 \
    --palette facades --description "pix2pix U-Net 256 (ngf 16, instance norm): CMP facades photo -> label map \
(12 classes), trained by translate on 360 facades training pairs (tools/ship/train_facades.sh)"
$PY tools/ship/ship_model.py "$RUNS/facades-label2photo/checkpoints/latest.pt" facades-label2photo --fp16 \
    --description "pix2pix U-Net 256 (ngf 16, instance norm): CMP facades label map -> photo, trained by \
translate on 360 facades training pairs (tools/ship/train_facades.sh)"
# The CycleGAN: only its labels -> photo generator (G_B) is shipped. On the validation split
# (VAL=1 bash tools/ship/eval_facades.sh, 40 images, looked at before any test score) it beat the
# nearest-neighbour baseline on PSNR, SSIM and L1 (11.72 / 0.173 / 0.215 vs 10.78 / 0.153 / 0.230);
# its photo -> labels generator did not (pixel accuracy 0.285 vs majority 0.320 and nearest 0.288).
$PY tools/ship/ship_model.py "$RUNS/facades-cyclegan-long/checkpoints/latest.pt" facades-cyclegan-label2photo \
    --direction BtoA --fp16 --description "CycleGAN ResNet 9 blocks (ngf 16, instance norm): CMP facades label map \
-> photo, trained unpaired by translate on 360 facades label maps and 360 photos, never paired (tools/ship/train_facades.sh \
cyclegan-long)"
