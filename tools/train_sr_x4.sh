#!/usr/bin/env bash
# Reproduces weights/sr-x4.safetensors: a small BN-free SRResNet x4 (32 channels, 8 residual blocks,
# 3x3 head/tail, output residual over the bicubic-upsampled input), L1 pretraining only (the
# PSNR-oriented SRResNet stage; the GAN stage lowers PSNR). Trained on ../shared/data/sr/T91 and
# ../shared/data/sr/BSD200 only (Set5 / Set14 / B100 are never trained on): 64 px HR crops,
# batch 16, Adam beta1 0.9. One epoch = 8 random crops of each of the 291 images = 146 iterations.
# Cycle 1: lr 7e-4 for 2 epochs, then linear decay to 0 over 7 (1314 iterations).
# Cycle 2 (warm restart, the run resumed with a longer decay): lr back to 3e-4 (= 7e-4 x 6/14),
# linear decay to 0 over 6 more epochs (876 iterations; 2190 in all).
# Measured on the shared, heavily loaded 2-core CPU development machine: 0.4-4.7 s/iteration,
# ~25 min per cycle (about 0.5 s/iteration on an idle 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/sr-x4}
.venv/bin/translate train srgan --data ../shared/data/sr/T91,../shared/data/sr/BSD200 --out "$RUN" \
  --stage pretrain --scale 4 --num-feat 32 --num-blocks 8 --head-kernel 3 --norm none --upsample-skip bicubic \
  --patch-size 64 --repeat 8 --batch-size 16 --lr 7e-4 --beta1 0.9 --epochs 2 --epochs-decay 7 \
  --seed 0 --workers 0 --device cpu --print-every 25 --sample-every 500 --save-every 100 --save-every-epochs 1 "$@"
.venv/bin/translate train --resume "$RUN" --epochs-decay 13
.venv/bin/python tools/ship_model.py "$RUN/checkpoints/latest.pt" sr-x4 \
  --description "SRResNet x4 (BN-free, 32 ch, 8 blocks, residual over bicubic), L1-trained on T91 + BSD200"
