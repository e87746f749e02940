#!/usr/bin/env bash
# The facades figures of docs/cut.md: the first three facades test pairs (1, 2, 3.jpg), one
# half of each as input, translated by the paired pix2pix (for scale), the CycleGAN (label map ->
# photo only: its shipped G_B) and the CUT and FastCUT runs of tools/ship/train_facades.sh.
#
#   RUNS=/work/runs DATA=../shared/data bash tools/figures/facades_cut.sh photo2label   # docs/cut_facades_photo2label.jpg
#   RUNS=/work/runs DATA=../shared/data bash tools/figures/facades_cut.sh label2photo   # docs/cut_facades_label2photo.jpg
#
# The test pairs are A|B side by side (A the photo, B the label map); the halves are cut into a
# temporary folder, never next to the data. OUT overrides the figure's path (.jpg: quality 85).
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
PY=.venv/bin/python
case "${1:-}" in
  photo2label) half=0; models=(--model "pix2pix (paired)=facades-photo2label") ;;
  label2photo) half=1; models=(--model "pix2pix (paired)=facades-label2photo"
                               --model "CycleGAN=facades-cyclegan-label2photo") ;;
  *) echo "usage: bash tools/figures/facades_cut.sh photo2label|label2photo" >&2; exit 2 ;;
esac
if [ ! -d "$DATA/paired/facades/test" ]; then
  echo "facades_cut.sh: $DATA/paired/facades/test: no such folder; set DATA to the folder holding paired/facades" >&2
  exit 2
fi
for recipe in cut fastcut; do
  run="$RUNS/facades-$recipe-$1"
  if [ ! -f "$run/checkpoints/latest.pt" ]; then
    echo "facades_cut.sh: $run: no run (train it with tools/ship/train_facades.sh $recipe)" >&2; exit 2
  fi
  label=CUT; [ $recipe = fastcut ] && label=FastCUT
  models+=(--model "$label=$run")
done
OUT=${OUT:-docs/cut_facades_$1.jpg}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PY - "$DATA/paired/facades/test" "$tmp/inputs" "$half" <<'PY'
import sys
from pathlib import Path

import cv2

from translate.data.layouts import split_aligned
from translate.imageio import list_images

test, out, half = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
out.mkdir()
# numbered files in numeric order (1, 2, 3; not 1, 10, 100)
for path in sorted(list_images(test), key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name))[:3]:
    cv2.imwrite(str(out / f"{path.stem}.png"), split_aligned(cv2.imread(str(path)), str(path))[half])
PY
$PY tools/figures/side_by_side.py "$tmp/inputs" --cell 160 "${models[@]}" -o "$OUT"
