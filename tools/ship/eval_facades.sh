#!/usr/bin/env bash
# The facades scores in the README: the shipped translators (and the CycleGAN run) on
# paired/facades/test (106 images, never trained or selected on), next to the baselines
# (majority class and nearest-neighbour retrieval from paired/facades/train). Add --json for
# machine-readable output. Validation (runs/facades/val, 40 images carved out of the training
# split) is what checkpoints were looked at on: VAL=1 scores that instead.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
T=.venv/bin/translate
CYCLEGAN_RUN=${CYCLEGAN_RUN:-$RUNS/facades-cyclegan-long}  # the 2520-iteration run: $RUNS/facades-cyclegan
if [ "${VAL:-0}" = 1 ]; then
  SPLIT="$RUNS/facades/val"; TRAIN="$RUNS/facades/train"
else
  SPLIT="$DATA/paired/facades/test"; TRAIN="$DATA/paired/facades/train"
fi
echo "== photo -> labels: pix2pix (paired)"
$T eval translation --model facades-photo2label --data "$SPLIT" --train-data "$TRAIN" --summary --device cpu "$@"
echo "== photo -> labels: CycleGAN (unpaired), G_A of $CYCLEGAN_RUN"
$T eval translation --model "$CYCLEGAN_RUN" --direction AtoB --palette facades --data "$SPLIT" \
    --train-data "$TRAIN" --summary --device cpu "$@"
echo "== labels -> photo: pix2pix"
$T eval translation --model facades-label2photo --data "$SPLIT" --train-data "$TRAIN" --summary --device cpu "$@"
echo "== labels -> photo: CycleGAN (unpaired), G_B of $CYCLEGAN_RUN"
$T eval translation --model "$CYCLEGAN_RUN" --direction BtoA --data "$SPLIT" --train-data "$TRAIN" \
    --summary --device cpu "$@"
# CUT / FastCUT (issue #23, docs/cut.md): one generator per direction, trained unpaired with
# `tools/ship/train_facades.sh cut|fastcut` (DIRECTION=BtoA for label map -> photo); the card holds
# the direction and the photo -> labels ones are scored as label maps like the CycleGAN's G_A.
for recipe in cut fastcut; do
  for name in photo2label label2photo; do
    run="$RUNS/facades-$recipe-$name"
    [ -f "$run/checkpoints/latest.pt" ] || { echo "== $recipe $name: no run at $run (skipped)"; continue; }
    if [ "$name" = photo2label ]; then palette=(--palette facades); else palette=(); fi
    echo "== $recipe (unpaired) $name: $run"
    $T eval translation --model "$run" "${palette[@]}" --data "$SPLIT" --train-data "$TRAIN" --summary \
        --device cpu "$@"
  done
done
