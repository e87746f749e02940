#!/usr/bin/env bash
# Issue #23, "When a GPU machine is lent": the paper-size facades runs in ONE device call. CUT and
# FastCUT (ResNet 9 blocks, ngf 64, anti-aliased, 256x256 crops: `translate train cut`'s defaults, the
# reference's) and pix2pix (U-Net 256, ngf 64, batch 1, 286 -> 256 crops, lambda_L1 100, Adam 2e-4
# beta1 0.5, linear decay), each trained to a wall-clock deadline, scored as tools/ship/eval_facades.sh
# scores (`translate eval translation --summary --json` on facades/test next to the baselines and the
# shipped ngf-16 pix2pix of the same direction), exported as fp16 safetensors (tools/ship/ship_model.py).
#
# 1. Here, before the call, once per checkout (needs the shared data and pip's index):
#      bash tools/gpu/train_cut_gpu.sh prepare
#    writes .gpu/cut/facades/train (the 360 training pairs of tools/ship/train_facades.sh:
#    paired/facades/train less the 40 files numbered a multiple of 10) and .gpu/cut/facades/test (106),
#    downloads into .whl/ the wheels the machine's image lacks or holds too old (albumentations and its
#    needs, typing_extensions, platformdirs), ignores both in .git/info/exclude and prints the MiB that
#    will travel (at most 64 MiB; 2026-12-06: checkout 36.4 + carried 25.6 = 62.0 MiB, so a checkout
#    that grows by 2 MiB, e.g. an ngf-64 model committed to weights/, no longer fits with the data).
# 2. The call (device tool `run`):
#      command:   OUT=$OUT bash tools/gpu/train_cut_gpu.sh
#      carry:     [".gpu/cut", ".whl"]
#      timeout_s: 600
#    It ends by itself within BUDGET (540) s; results come back as they are written, so a call cut
#    short still returns the steps done.
# 3. Only if report.json's "weights" lists parts not returned (pix2pix at ngf 64 is 109 MB in fp16; one
#    call brings back at most 8 files of 16 MiB, 64 MiB in all), at once, before the machine goes back
#    (it stays warm 30 s after a call; a fresh machine has lost the files), as often as parts are left:
#      command: OUT=$OUT bash tools/gpu/train_cut_gpu.sh fetch     (no carry; timeout_s 60)
#    Join the parts here: cat NAME.safetensors.part* > NAME.safetensors (sha256 in report.json).
#
# Steps, each logged with its start and length to $OUT/steps.log; $OUT/report.json is rewritten after each:
#   install   the carried wheels into /tmp/site, the checkout on PYTHONPATH (nothing is built; INSTALL=0: skip)
#   data      `translate convert split` + `convert unpaired --link` of the 360 pairs (as train_facades.sh)
#   shipped   the shipped ngf-16 pix2pix of the same direction, scored on this machine (EVAL_SHIPPED=0: skip)
#   per model in STEPS (default "cut pix2pix fastcut"): train (tools/gpu/train_cut_gpu.py train: a timed
#             warm-up with the recipe's plan, then the epochs that fit, split into full and decaying
#             learning rate as the recipe's plan splits them; SIGTERM at the deadline saves the checkpoint),
#             eval, export (fp16), pack (parts under 16 MiB into $OUT while the call's limits allow)
#   finish    logs.tar.gz: every run's output, losses.jsonl, config.json, last image sheet; eval JSONs
# Budget: BUDGET seconds from the script's start (540 of the call's 600). Before each model, the time
# left less FINAL_RESERVE (15 s) and STEP_RESERVE (40 s: eval, export, pack) per model still to run is
# shared out by SHARE_CUT (1.4), SHARE_PIX2PIX (1), SHARE_FASTCUT (0.8); a model given under MIN_TRAIN
# (30) s is skipped (and says so). Not yet run on a GPU; planned from earlier H100 figures (pix2pix
# ngf 64 on facades 0.013-0.020 s/it in fp32, docs/models.md, 0.008 in bf16 + channels_last,
# docs/benchmarks.md; CycleGAN ngf 64 0.068 s/it, and CUT about 0.75 of CycleGAN per iteration on the
# CPU, docs/cut.md): with install + data + shipped score about 30 s, ~375 s of
# training, CUT ~165 s (~0.05 s/it: ~6 epochs of 360 after the warm-up and restart), pix2pix ~115 s
# (~15-20 epochs), FastCUT ~95 s (~6 epochs): far from the papers' 200-400 epochs. STEPS=cut gives
# one model the whole call; EXTRA_ARGS (e.g. "--precision bf16 --channels-last") reaches every run.
# Returned files: steps.log, report.json, logs.tar.gz, facades-cut-photo2label.safetensors.part0/1 and
# facades-fastcut-photo2label.safetensors.part0/1 (22.8 MB each in fp16: 11.4 M parameters); the pix2pix
# file (54.4 M parameters, 108.8 MB in 7 parts of 15 MiB) cannot come back with them: it stays on the
# machine for `fetch` (2 more calls: 4 + 3 parts).
#
# Smoke test on a CPU (tests/tools/test_train_cut_gpu_script.py runs all of it): DEVICE=cpu INSTALL=0
# PY=.venv/bin/python NGF=8 NDF=8 LOAD_SIZE=36 CROP_SIZE=32 P2P_NETG=unet_32 WORKERS=0 PRINT_EVERY=2
# WARMUP_S=0 EXTRA_ARGS="--epochs 3 --epochs-decay 3" PART_MIB=0.1 with DATA, WORK and OUT in a
# temporary folder.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PY=${PY:-python3}
DATA=${DATA:-.gpu/cut/facades}
WHEELS=${WHEELS:-.whl}
WORK=${WORK:-/tmp/train_cut_gpu}
KEEP=$WORK/keep
HELPER=tools/gpu/train_cut_gpu.py

prepare() {
  local src=${SRC_DATA:-../shared/data}/paired/facades
  [ -d "$src/train" ] && [ -d "$src/test" ] || { echo "prepare: no $src/train and $src/test (set SRC_DATA)" >&2; exit 2; }
  mkdir -p "$DATA/train" "$DATA/test"
  for f in "$src"/train/*.jpg; do  # the 360 of tools/ship/train_facades.sh: numbers not a multiple of 10
    local n; n=$(basename "$f" .jpg)
    [ $((10#$n % 10)) -eq 0 ] || cp -l -f "$f" "$DATA/train/" 2>/dev/null || cp -f "$f" "$DATA/train/"
  done
  for f in "$src"/test/*.jpg; do cp -l -f "$f" "$DATA/test/" 2>/dev/null || cp -f "$f" "$DATA/test/"; done
  echo "data: $(ls "$DATA/train" | wc -l) training pairs, $(ls "$DATA/test" | wc -l) test pairs in $DATA"
  if [ "${DOWNLOAD_WHEELS:-1}" = 1 ]; then
    # The versions the development environment runs, for the image's Python 3.12 (typing_extensions
    # too: pydantic 2.14 needs 4.16, newer than the image may hold); stringzilla 3.12.6 instead of 5.x
    # (a 0.3 MB wheel instead of 4.2 MB; albucore calls only its translate(), the same in both)
    local host_py=${HOST_PY:-.venv/bin/python} specs
    specs=$($host_py -c "from importlib.metadata import version as v
print(' '.join(f'{n}=={v(n)}' for n in ('albumentations', 'albucore', 'pydantic', 'pydantic_core',
      'annotated-types', 'typing-inspection', 'typing_extensions', 'simsimd', 'platformdirs')))") || exit 2
    mkdir -p "$WHEELS"
    # shellcheck disable=SC2086
    $host_py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux1_x86_64 -d "$WHEELS" $specs stringzilla==3.12.6 || exit 2
  fi
  for path in "$DATA" "$WHEELS"; do  # ignored, so they travel only where `carry` names them
    case $(realpath "$path") in
      "$REPO"/*) local top; top=/$(realpath --relative-to="$REPO" "$path" | cut -d/ -f1)/
                 grep -qxF "$top" .git/info/exclude 2>/dev/null || echo "$top" >>.git/info/exclude ;;
    esac
  done
  $PY - "$DATA" "$WHEELS" <<'EOF'
"""What a call will carry: tracked files, untracked files not ignored, and the carried folders."""
import subprocess
import sys
from pathlib import Path

carried = sum(p.stat().st_size for d in sys.argv[1:] for p in Path(d).rglob("*") if p.is_file())
try:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
except (OSError, subprocess.CalledProcessError):
    print(f"travels: carried {carried / 2**20:.1f} MiB + a checkout not measured here (no git)")
    raise SystemExit(0)
tree = sum(Path(f).stat().st_size for f in listed if f and Path(f).is_file())
total = (tree + carried) / 2**20
print(f"travels: checkout {tree / 2**20:.1f} MiB + carried {carried / 2**20:.1f} MiB = {total:.1f} MiB "
      f"({'fits' if total <= 64 else 'OVER'} the 64 MiB a call may carry)")
EOF
}

case "${1:-run}" in
  prepare) prepare; exit $? ;;
  fetch) OUT=${OUT:-/tmp/train_cut_gpu_out}; mkdir -p "$OUT"
         PYTHONPATH=/tmp/site:$REPO exec $PY $HELPER fetch --out "$OUT" --keep "$KEEP" ;;
  run) ;;
  *) echo "usage: bash tools/gpu/train_cut_gpu.sh [run|prepare|fetch]" >&2; exit 2 ;;
esac

OUT=${OUT:-/tmp/train_cut_gpu_out}
BUDGET=${BUDGET:-540}
STEPS=${STEPS:-cut pix2pix fastcut}
STEP_RESERVE=${STEP_RESERVE:-40}
FINAL_RESERVE=${FINAL_RESERVE:-15}
MIN_TRAIN=${MIN_TRAIN:-30}
DEVICE=${DEVICE:-cuda}
DIRECTION=${DIRECTION:-AtoB}
NGF=${NGF:-64}
NDF=${NDF:-64}
if [ "$DIRECTION" = AtoB ]; then TASK=photo2label; PALETTE=(--palette facades); else TASK=label2photo; PALETTE=(); fi
START=$(date +%s)
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
if [ -e "$WORK/.train_cut_gpu" ]; then  # ours, from an earlier call on this (warm) machine
  rm -rf "$WORK/runs" "$WORK/keep" "$WORK/eval" "$WORK/train" "$WORK/logs" "$WORK/data" "$WORK/timings.tsv"
elif [ -e "$WORK" ] && [ -n "$(ls -A "$WORK")" ]; then
  echo "WORK=$WORK is not empty and not this script's: name another folder" >&2; exit 2
fi
mkdir -p "$WORK"/{runs,keep/weights,eval,train,logs,data} && touch "$WORK/.train_cut_gpu"
LOGS=$WORK/logs

elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "$*" | tee -a "$OUT/steps.log"; }
began=0
begin() { began=$(date +%s); log "== $1 (at $(elapsed) s)"; }
end() {  # $1: step name; its start and length go to timings.tsv (report.json's "steps")
  printf '%s\t%s\t%s\n' "$1" $(( began - START )) $(( $(date +%s) - START )) >>"$WORK/timings.tsv"
  log "   $1: $(( $(date +%s) - began )) s"
}
report() { $PY $HELPER report --work "$WORK" --keep "$KEEP" --report "$OUT/report.json" >>"$LOGS/report.log" 2>&1; }
seconds_left() { echo $(( BUDGET - $(elapsed) - FINAL_RESERVE )); }
pack_logs() {  # $OUT/logs.tar.gz, after each model: the runs' output, losses, config and last image sheet
  local run sheet
  for run in "$WORK"/runs/*/; do
    [ -d "$run" ] || continue
    sheet=$(ls "$run"samples/*.png 2>/dev/null | tail -1)
    [ -n "$sheet" ] && cp "$sheet" "$LOGS/$(basename "$run")_$(basename "$sheet")"
    cp "$run"losses.jsonl "$LOGS/$(basename "$run")_losses.jsonl" 2>/dev/null
    cp "$run"config.json "$LOGS/$(basename "$run")_config.json" 2>/dev/null
  done
  cp "$WORK"/eval/*.json "$LOGS/" 2>/dev/null
  tar czf "$OUT/logs.tar.gz.tmp" -C "$WORK" logs && mv "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz"
}
min() { echo $(( $1 < $2 ? $1 : $2 )); }

begin install
if [ "${INSTALL:-1}" = 1 ]; then
  if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    timeout -k 5 150 $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$WHEELS"/*.whl >"$LOGS/install.log" 2>&1 || log "   wheel install failed (logs/install.log)"
  else
    log "   no wheels in $WHEELS: the image must hold albumentations (see prepare)"
  fi
  export PYTHONPATH=/tmp/site:$REPO${PYTHONPATH:+:$PYTHONPATH}
fi
timeout -k 5 120 $PY - "$WORK/machine.json" <<'EOF' >>"$LOGS/install.log" 2>&1 || log "   translate does not import (logs/install.log): later steps fail"
import json, os, subprocess, sys
import torch
import translate.data.datasets  # albumentations and the rest of the training imports
gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                     capture_output=True, text=True).stdout.strip() if torch.cuda.is_available() else None
json.dump({"gpu": gpu, "torch": torch.__version__, "cpus": os.cpu_count(), "python": sys.version.split()[0]},
          open(sys.argv[1], "w"))
EOF
end install

begin data
timeout -k 5 120 $PY -m translate convert split "$DATA/train" "$WORK/data/split" --quiet >"$LOGS/data.log" 2>&1 \
  && timeout -k 5 60 $PY -m translate convert unpaired "$WORK/data/split/A" "$WORK/data/split/B" "$WORK/data/unpaired" \
       --test-fraction 0 --link --quiet >>"$LOGS/data.log" 2>&1 \
  || log "   unpaired data failed (logs/data.log): CUT / FastCUT fail"
log "   $(ls "$DATA/train" | wc -l) training pairs, $(ls "$DATA/test" | wc -l) test pairs"
end data

evaluate() {  # $1: report name, $2: model (run folder or zoo name)
  local t; t=$(min "${EVAL_TIMEOUT:-120}" "$(seconds_left)")
  (( t > 5 )) || { log "   eval $1 skipped: deadline"; return 1; }
  timeout -k 10 "$t" $PY -m translate eval translation --model "$2" ${PALETTE[@]+"${PALETTE[@]}"} --data "$DATA/test" \
      --train-data "$DATA/train" --summary --json --device "$DEVICE" >"$WORK/eval/$1.json.tmp" 2>"$LOGS/eval_$1.log" \
    && mv "$WORK/eval/$1.json.tmp" "$WORK/eval/$1.json" \
    && log "   $1: $($PY -c "import json,sys; r=json.load(open(sys.argv[1]))['methods']
print('; '.join(m+' '+', '.join(f'{k} {v:.3f}' for k, v in r[m]['mean'].items()) for m in r))" "$WORK/eval/$1.json")" \
    || log "   eval $1 failed (logs/eval_$1.log)"
}

if [ "${EVAL_SHIPPED:-1}" = 1 ]; then
  begin "shipped facades-$TASK"
  evaluate "shipped-facades-$TASK" "facades-$TASK"
  end "shipped facades-$TASK"
  report
fi

COMMON=(--direction "$DIRECTION" --ngf "$NGF" --ndf "$NDF" --load-size "${LOAD_SIZE:-286}" --crop-size "${CROP_SIZE:-256}"
        --batch-size 1 --lr 0.0002 --beta1 0.5 --device "$DEVICE" --workers "${WORKERS:-4}" --seed 0
        --print-every "${PRINT_EVERY:-50}" --sample-every "${SAMPLE_EVERY:-1000}" --save-every "${SAVE_EVERY:-5000}"
        --save-every-epochs 0)
share() { case $1 in cut) echo "${SHARE_CUT:-1.4}" ;; pix2pix) echo "${SHARE_PIX2PIX:-1}" ;; fastcut) echo "${SHARE_FASTCUT:-0.8}" ;; esac; }
read -r -a todo <<<"$STEPS"
for i in "${!todo[@]}"; do
  recipe=${todo[$i]}
  case $recipe in
    pix2pix) model=facades-$TASK-ngf$NGF
             # instance norm: at batch 1 what the paper's batch norm computes in training, and the same in eval mode
             args=(pix2pix --data "$DATA" --netG "${P2P_NETG:-unet_256}" --norm "${P2P_NORM:-instance}" --lambda-L1 100) ;;
    cut|fastcut) model=facades-$recipe-$TASK
                 args=(cut --mode "$recipe" --data "$WORK/data/unpaired" --netG "${CUT_NETG:-resnet_9blocks}") ;;
    *) log "unknown step $recipe (pix2pix, cut, fastcut)"; continue ;;
  esac
  shares=0
  for later in "${todo[@]:$i}"; do shares=$(awk -v a="$shares" -v b="$(share "$later")" 'BEGIN {print a + b}'); done
  avail=$(( $(seconds_left) - STEP_RESERVE * (${#todo[@]} - i) ))
  seconds=$(awk -v a="$avail" -v s="$(share "$recipe")" -v t="$shares" 'BEGIN {printf "%d", a * s / t}')
  if (( seconds < MIN_TRAIN )); then log "== skipped $model: ${seconds} s of training left (MIN_TRAIN $MIN_TRAIN)"; continue; fi
  begin "train $model (${seconds} s)"
  $PY $HELPER train --run "$WORK/runs/$model" --seconds "$seconds" --warmup-s "${WARMUP_S:-20}" \
      --summary "$WORK/train/$model.json" --logs "$LOGS" --python "$PY" "${args[0]}" -- "${args[@]:1}" "${COMMON[@]}" ${EXTRA_ARGS:-} \
      >"$LOGS/$model.plan.log" 2>&1 || log "   training failed (logs/$model.warmup.log, $model.train.log)"
  log "   $($PY -c "import json,sys; s=json.load(open(sys.argv[1])); f=s.get('final', {}); p=s.get('plan', {})
print(f\"plan {p.get('epochs')}+{p.get('epochs_decay')} epochs, {f.get('iterations')} iterations, \"
      f\"s/it {f.get('s_per_it') or s.get('warmup', {}).get('s_per_it')}, completed {f.get('completed')}\", s.get('error', ''))" \
      "$WORK/train/$model.json" 2>/dev/null)"
  end "train $model"
  report
  [ -f "$WORK/runs/$model/checkpoints/latest.pt" ] || continue
  begin "eval $model"
  evaluate "$model" "$WORK/runs/$model"
  end "eval $model"
  begin "export $model"
  t=$(min 120 "$(seconds_left)")
  (( t > 5 )) || { log "   export skipped: deadline (the run stays in $WORK/runs/$model)"; end "export $model"; continue; }
  timeout -k 10 "$t" $PY tools/ship/ship_model.py "$WORK/runs/$model/checkpoints/latest.pt" "$model" --fp16 \
      ${PALETTE[@]+"${PALETTE[@]}"} --out-dir "$KEEP/weights" --source "trained by translate on a lent GPU (tools/gpu/train_cut_gpu.sh)" \
      --description "$recipe, facades $TASK, ngf $NGF, trained to a wall-clock budget on one GPU (tools/gpu/train_cut_gpu.sh)" \
      >>"$LOGS/export.log" 2>&1 \
    && $PY $HELPER pack "$KEEP/weights/$model.safetensors" --out "$OUT" --keep "$KEEP" --part-mib "${PART_MIB:-15}" \
         2>>"$LOGS/export.log" | tee -a "$OUT/steps.log" \
    || log "   export failed (logs/export.log)"
  end "export $model"
  report
  pack_logs
done

begin finish
pack_logs
end finish
report
log "== done at $(elapsed) s of $BUDGET"
