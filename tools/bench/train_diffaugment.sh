#!/usr/bin/env bash
# Measure DiffAugment on small data: pix2pix photo -> labels (AtoB) on only 100 facades training
# pairs, the same settings and the same 2000 iterations (20 epochs of 100, lr constant for 10
# epochs then linearly to 0) with and without `--diffaugment color,translation,cutout`.
# Data: the first 100 files (in numeric order: 1, 2, ..., 9, 11, ...) of paired/facades/train whose
# number is not a multiple of 10 (multiples of 10 are the validation split carved out of train),
# hard-linked into runs/diffaug_data/train. facades/test is never trained on; it scores both runs:
#   translate eval translation --model runs/diffaug_off --data ../shared/data/paired/facades/test
#   translate eval translation --model runs/diffaug_on  --data ../shared/data/paired/facades/test
# Both runs go in the background at once, one thread each (the 2-core machine is shared with
# other training jobs); logs in runs/diffaug_{off,on}.log.
set -euo pipefail
DATA=${DATA:-../shared/data}
SUBSET=runs/diffaug_data/train
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ ! -d "$SUBSET" ]; then
    mkdir -p "$SUBSET"
    ls "$DATA/paired/facades/train" | sort -n | awk -F. '$1 % 10 != 0' | head -n 100 |
        while read -r f; do ln "$DATA/paired/facades/train/$f" "$SUBSET/$f"; done
fi
[ "$(ls "$SUBSET" | wc -l)" -eq 100 ] || { echo "expected 100 pairs in $SUBSET" >&2; exit 1; }

COMMON=(--data "$SUBSET" --direction AtoB --netG unet_256 --ngf 16 --ndf 32 --norm instance
        --epochs 10 --epochs-decay 10 --workers 1 --device cpu --seed 0
        --print-every 50 --sample-every 250 --save-every 250 --save-every-epochs 0)
nohup .venv/bin/translate train pix2pix "${COMMON[@]}" --out runs/diffaug_off > runs/diffaug_off.log 2>&1 &
OFF=$!
nohup .venv/bin/translate train pix2pix "${COMMON[@]}" --out runs/diffaug_on \
    --diffaugment color,translation,cutout > runs/diffaug_on.log 2>&1 &
echo "started runs/diffaug_off (pid $OFF) and runs/diffaug_on (pid $!); follow runs/diffaug_*.log"
