#!/usr/bin/env bash
# Everything one lent GPU machine call does (device tool, about 9 minutes in all):
#   1. install the carried wheels (WHEELS, default .whl/: the project's dependencies the machine's
#      image lacks, and the reference implementation's `dominate`) and the project itself, offline
#   2. tools/reference/compare_reference.sh: the reference pix2pix vs `translate train` on facades, SECONDS_EACH
#      seconds of training each (.gpu/ref: the reference code, .gpu/data/facades: the data)
#   3. tools/gpu/gpu_check.sh in the time that is left (BUDGET seconds for the whole call)
# The call that ran it (from the repository root: the working tree travels as it is; a .gpu/src
# snapshot beside it no longer fits the 64 MiB a call may carry):
#   export PYTHONPATH=$(realpath .gpu/stub) && OUT=$OUT WHEELS=.whl REF=.gpu/ref DATA=.gpu/data/facades \
#     REF_ARGS="--lr_policy step" BUDGET=560 SECONDS_EACH=70 SKIP="pytest inference run" \
#     SYNTH_ARGS="--variants fp32 bf16_channels_last --batches 1 4" N1=20 N2=220 \
#     VARIANTS="fp32 bf16_channels_last" bash tools/gpu/gpu_session.sh
# with carry [".gpu", ".whl"]: .gpu/ref the reference files, .gpu/stub/wandb/__init__.py an empty
# stand-in for the wandb module its visualizer imports (unused without --use_wandb), .gpu/data/facades
# train/ (360) + test/ (106) as in tools/ship/train_facades.sh. 2026-11-26: H200 519 s, H100 484 s of the call.
# Results under $OUT: compare.json, compare_samples.tar.gz, gpu_check.json, steps.log,
# gpu_check_logs.tar.gz, install.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_session_out}
mkdir -p "$OUT"
START=$(date +%s)
BUDGET=${BUDGET:-560}
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile "$WHEELS"/*.whl >"$OUT/install.log" 2>&1
fi
$PY -m pip install -q --no-index --no-deps --no-build-isolation -e . >>"$OUT/install.log" 2>&1 \
  || echo "project install failed (install.log)" | tee -a "$OUT/install.log"
echo "install done in $(( $(date +%s) - START )) s" | tee -a "$OUT/install.log"
SECONDS_EACH=${SECONDS_EACH:-80} bash tools/reference/compare_reference.sh "$OUT"
left=$(( BUDGET - ($(date +%s) - START) ))
echo "compare done at $(( $(date +%s) - START )) s; gpu_check gets ${left} s" | tee -a "$OUT/install.log"
# gpu_check starts no step after DEADLINE s (each step is time-boxed); the device call's own limit is the hard stop
OUT=$OUT INSTALL=0 DEADLINE=$(( left > 120 ? left - 60 : 30 )) PYTEST_TIMEOUT=${PYTEST_TIMEOUT:-60} \
  VARIANTS=${VARIANTS:-fp32 bf16_channels_last} N1=${N1:-10} N2=${N2:-60} bash tools/gpu/gpu_check.sh
