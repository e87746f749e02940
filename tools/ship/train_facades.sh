#!/usr/bin/env bash
# Train the shipped facades translators on CPU, exactly as a user would (`translate train`).
#
#   bash tools/ship/train_facades.sh data          # the splits below (hard links, nothing copied)
#   bash tools/ship/train_facades.sh photo2label   # pix2pix, photo -> label map   (runs/facades-photo2label)
#   bash tools/ship/train_facades.sh label2photo   # pix2pix, label map -> photo   (runs/facades-label2photo)
#   bash tools/ship/train_facades.sh cyclegan      # CycleGAN, unpaired photos <-> label maps (runs/facades-cyclegan)
#   OMP_NUM_THREADS=2 bash tools/ship/train_facades.sh cyclegan-long   # the same, 33 epochs, alone on the
#                                             # CPU (runs/facades-cyclegan-long: the shipped one)
#   bash tools/ship/train_facades.sh cut       # CUT, photo -> label map, one generator (runs/facades-cut-photo2label)
#   bash tools/ship/train_facades.sh fastcut   # FastCUT, the same                     (runs/facades-fastcut-photo2label)
#   DIRECTION=BtoA bash tools/ship/train_facades.sh cut   # label map -> photo         (runs/facades-cut-label2photo)
#
# Data: only paired/facades/train (400 A|B images, A = photo, B = label map). Its files whose number
# is a multiple of 10 (40) are the validation split (runs/facades/val), the other 360 the training
# split (runs/facades/train). paired/facades/test (106) is used once, for the final score
# (tools/ship/eval_facades.sh). The CycleGAN sees the same 360 photos (trainA) and 360 label maps
# (trainB) with no pairing: each iteration draws B at random, independently of A.
#
# Sizes: U-Net 256 with ngf 16 (3.4 M parameters, 13.6 MB as float32, 6.8 MB stored as float16) and
# instance norm: it normalises each image on its own in training and at inference alike, so eval
# mode computes what training saw (batch norm at batch 1 would switch to running averages at
# inference; the reference test.py runs pix2pix in train mode to avoid that). The CycleGAN uses
# ResNet 9 blocks with ngf 16 (0.7 M parameters) trained on random 128x128 crops of the
# 286x286-resized images (4x cheaper than 256 crops; the networks are fully convolutional and run
# on the whole 256x256 images at the same scale), without the identity loss (photos and label maps
# are different domains; the CycleGAN paper uses it only for paintings <-> photos).
#
# All three ran at once on the 2-core development CPU, one thread each (about 0.3-0.5 s per
# pix2pix iteration and 0.6 s per CycleGAN iteration while sharing it). Then:
#   python tools/ship/ship_model.py runs/facades-photo2label/checkpoints/latest.pt facades-photo2label --fp16 ...
#   (see tools/ship/ship_facades.sh)
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=.venv/bin/translate
COMMON=(--workers 1 --device cpu --print-every 100 --sample-every 1000 --save-every 500 --save-every-epochs 0
        --seed 0)

make_data() {
  local src="$DATA/paired/facades/train" out="$RUNS/facades"
  mkdir -p "$out/train" "$out/val"
  for f in "$src"/*.jpg; do
    local n; n=$(basename "$f" .jpg)
    if [ $((10#$n % 10)) -eq 0 ]; then ln -f "$f" "$out/val/"; else ln -f "$f" "$out/train/"; fi
  done
  [ -d "$RUNS/facades_split" ] || $T convert split "$out/train" "$RUNS/facades_split" --quiet
  [ -d "$RUNS/facades_unpaired" ] || $T convert unpaired "$RUNS/facades_split/A" "$RUNS/facades_split/B" \
      "$RUNS/facades_unpaired" --test-fraction 0 --link --quiet
}

# Schedules: what fit in about two hours of the 2-core CPU, shared with other work. The runs were
# started with longer plans (pix2pix 15 + 15 epochs, CycleGAN 12 + 12) and resumed at constant lr
# with shorter ones as the machine's load became clear (pix2pix at iteration 1389 / 1495 with 10 + 10,
# at 2925 / 3026 with the values below; CycleGAN at 406 with 9 + 9, at 693 with 6 + 6, at 1451 with
# the values below). Until the first decay epoch every one of these schedules is the same constant
# lr, so the result is what a run started with the values below computes, except that the first
# decayed epoch, in progress at the last resume, ran its first iterations at the full lr: pix2pix
# epoch 9 (from iteration 2880) for 45 (photo2label) / 146 (label2photo) iterations, CycleGAN
# epoch 5 (from 1440) for 11.
PIX2PIX_SCHEDULE=(--epochs 8 --epochs-decay 4)    # 12 epochs, 4320 iterations
CYCLEGAN_SCHEDULE=(--epochs 4 --epochs-decay 3)   # 7 epochs, 2520 iterations
# A later session (2026-11-26) had the CPU to itself for about 70 minutes: 0.33 s per iteration
# with two threads, so 17 + 16 epochs (11880 iterations) from scratch, nothing else changed.
CYCLEGAN_LONG_SCHEDULE=(--epochs 17 --epochs-decay 16)
# CUT / FastCUT (issue #23), same data, network size, crops and thread count as cyclegan-long, trained
# for the same wall clock: CycleGAN's 11880 iterations x (CycleGAN s/it / CUT s/it), the two measured
# side by side in one run (docs/cut.md: tools/bench/bench_train.py --compare cyclegan cut fastcut
# --set ngf=16 --set ndf=32 --set lambda_identity=0 --sizes 128 --threads 1), rounded to whole epochs
# of 360 iterations and split like the CycleGAN's into a constant half and a decay half. Quiet machine,
# 2026-12-06: CycleGAN 0.525 s/it, CUT 0.617, FastCUT 0.365 -> CUT 11880 x 0.525 / 0.617 = 10108
# (28 epochs), FastCUT 17088 (48 epochs).
CUT_SCHEDULE=(--epochs 14 --epochs-decay 14)
FASTCUT_SCHEDULE=(--epochs 24 --epochs-decay 24)

pix2pix() {  # $1: run name, $2: direction
  local run="$RUNS/$1"
  if [ -f "$run/checkpoints/latest.pt" ]; then exec $T train --resume "$run" "${PIX2PIX_SCHEDULE[@]}"; fi
  exec $T train pix2pix --data "$RUNS/facades" --out "$run" --direction "$2" \
      --netG unet_256 --ngf 16 --ndf 32 --norm instance \
      "${PIX2PIX_SCHEDULE[@]}" --val-every 1800 --val-max-images 40 "${COMMON[@]}"
}

case "${1:-}" in
  data) make_data ;;
  photo2label) make_data; pix2pix facades-photo2label AtoB ;;
  label2photo) make_data; pix2pix facades-label2photo BtoA ;;
  cyclegan|cyclegan-long)
    make_data
    if [ "$1" = cyclegan ]; then run="$RUNS/facades-cyclegan"; schedule=("${CYCLEGAN_SCHEDULE[@]}")
    else run="$RUNS/facades-cyclegan-long"; schedule=("${CYCLEGAN_LONG_SCHEDULE[@]}"); fi
    if [ -f "$run/checkpoints/latest.pt" ]; then exec $T train --resume "$run" "${schedule[@]}"; fi
    exec $T train cyclegan --data "$RUNS/facades_unpaired" --out "$run" \
        --netG resnet_9blocks --ngf 16 --ndf 32 --load-size 286 --crop-size 128 --lambda-identity 0 \
        "${schedule[@]}" "${COMMON[@]}" ;;
  cut|fastcut)
    make_data
    direction=${DIRECTION:-AtoB}
    if [ "$direction" = AtoB ]; then name=photo2label; else name=label2photo; fi
    run="$RUNS/facades-$1-$name"
    if [ "$1" = cut ]; then schedule=("${CUT_SCHEDULE[@]}"); else schedule=("${FASTCUT_SCHEDULE[@]}"); fi
    if [ -f "$run/checkpoints/latest.pt" ]; then exec $T train --resume "$run" "${schedule[@]}"; fi
    exec $T train cut --mode "$1" --direction "$direction" --data "$RUNS/facades_unpaired" --out "$run" \
        --netG resnet_9blocks --ngf 16 --ndf 32 --load-size 286 --crop-size 128 \
        "${schedule[@]}" "${COMMON[@]}" --save-every 200 ;;
  *) echo "usage: bash tools/ship/train_facades.sh data|photo2label|label2photo|cyclegan|cyclegan-long|cut|fastcut" >&2
     exit 2 ;;
esac
