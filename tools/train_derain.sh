#!/usr/bin/env bash
# Train the shipped `derain` model (ID-CGAN, residual dense encoder-decoder) on CPU.
# Data: the 12 real pairs of derain/RainTrainH_mini (each repeated 8x per epoch) mixed with
# synthetic light/heavy rain on sr/T91 + sr/BSD200. Rain100L / Rain100H are never trained on.
# No VGG19 weights on the training machine: --lambda-perceptual 0 (pixel MSE + 6.6e-3 adversarial).
# The shipped weights are iteration 500 (~26 min on a shared 2-core CPU, 1 thread).
# Then: python tools/ship_model.py runs/derain/checkpoints/latest.pt derain --description "..."
# and:  translate eval derain --model derain --data ../shared/data/derain/Rain100L (and Rain100H)
set -euo pipefail
# One thread: the machine is shared with other training jobs (oversubscribed OpenMP threads crawl).
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/derain}
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} exec .venv/bin/translate train derain \
  --data "$DATA/derain/RainTrainH_mini" --pair-repeat 2 \
  --synthetic-rain "$DATA/sr/T91,$DATA/sr/BSD200" --light-fraction 0.7 --clean-fraction 0.1 \
  --out "$OUT" --crop-size 96 --batch-size 4 --ngf 24 --growth 12 --layers-per-block 4 --levels 3 \
  --ndf 32 --num-D 2 --lambda-perceptual 0 --lambda-adv 1e-3 --lr 2e-4 --beta1 0.5 \
  --epochs 1000 --epochs-decay 0 --max-iters ${MAX_ITERS:-1500} \
  --workers 1 --device cpu --print-every 20 --sample-every 200 --save-every 100 --save-every-epochs 0 --seed 0
