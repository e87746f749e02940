#!/usr/bin/env bash
# GPU checks in one go, for a lent GPU machine (about 6-8 minutes on one H100): run from the
# repository root, e.g. through the device tool: `bash tools/gpu/gpu_check.sh` (OUT=$OUT is set there).
#
#   1. install the project as its README says (pip install -e ".[dev]"); offline, where that cannot
#      fetch, only the project itself (--no-deps) plus any wheels carried in .whl/ - nothing else
#   2. pytest -m gpu (CUDA run vs CPU, ONNX on CUDA with IO binding, fp16 export on CUDA, training
#      in fp32 / bf16 / bf16 + channels_last)
#   3. training speed of CycleGAN and pix2pix (reference sizes: 256x256, batch 1, ngf 64) in fp32,
#      bf16 and bf16 + channels_last: the real `translate train` command, (T(N2) - T(N1)) / (N2 - N1)
#      iterations (tools/bench/bench_train.py --end-to-end), and the synthetic step of each variant
#   4. inference: PyTorch CUDA, onnxruntime CUDA (IO binding), CUDA fp16 and TensorRT where
#      onnxruntime has them (tools/bench/bench_infer.py), and `translate run ... --device cuda` wall time
#   5. one JSON of every figure: $OUT/gpu_check.json, beside steps.log and gpu_check_logs.tar.gz
#
# The data is made here from docs/samples (the shared data folder does not travel to the GPU
# machine): 12 crops, so epochs are 12 iterations long and the every-5-epochs checkpoint falls
# inside the timed iterations; PAIRED_DATA / UNPAIRED_DATA name real folders carried instead.
# Each step is time-boxed and a failing step is recorded in the JSON, not fatal.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
N1=${N1:-20}
N2=${N2:-220}
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
LOG=$WORK/logs  # the device tool brings back at most 8 files: the logs travel as one archive
mkdir -p "$LOG"
export PYTHONUNBUFFERED=1
START=$(date +%s)
DEADLINE=${DEADLINE:-450}  # seconds: later steps are skipped (and say so) to end within 8 minutes
# SKIP="pytest inference run": steps left out on purpose (e.g. measured on this card already)
step() { echo "== $1 ($(( $(date +%s) - START )) s)" | tee -a "$OUT/steps.log"; }
time_left() {  # true while the deadline allows another step; else records the skip
  if [[ " ${SKIP:-} " == *" $2 "* ]]; then echo "skipped: $1 (SKIP)" | tee -a "$OUT/steps.log"; return 1; fi
  if (( $(date +%s) - START < DEADLINE )); then return 0; fi
  echo "skipped: $1 (deadline ${DEADLINE} s reached)" | tee -a "$OUT/steps.log"; return 1
}

step "install"
if [ "${INSTALL:-1}" = 1 ]; then  # INSTALL=0: the environment already holds the project
# Offline (the lent machines reach nothing) pip would retry PyPI for minutes: when the dependencies
# are already there (or carried as wheels in .whl/), only the project itself is installed.
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile .whl/*.whl >"$LOG/install.log" 2>&1
fi
if $PY -c "import torch, onnxruntime, onnxscript, kornia, albumentations, platformdirs, safetensors" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-build-isolation -e . >>"$LOG/install.log" 2>&1
else
  $PY -m pip install -q --retries 1 --timeout 10 -e ".[dev]" >>"$LOG/install.log" 2>&1 \
    || echo "install failed: dependencies missing offline (see install.log); steps that need them fail" | tee -a "$OUT/steps.log"
fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$LOG/gpu.txt" 2>&1

step "pytest -m gpu"
time_left "pytest -m gpu" pytest && timeout ${PYTEST_TIMEOUT:-150} $PY -m pytest -q -m gpu -rs -p no:cacheprovider --junitxml="$LOG/gpu_tests.xml" >"$LOG/gpu_tests.log" 2>&1

step "training data"
timeout 60 $PY - "$WORK/data" <<'EOF' >"$LOG/data.log" 2>&1
"""Paired (train/ A|B) and unpaired (trainA, trainB) 256x256 sets cut from docs/samples."""
import sys
from pathlib import Path

import cv2
import numpy as np

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
sources = [cv2.resize(cv2.imread(str(p)), (512, 512)) for p in sorted(Path("docs/samples").glob("*.png"))]
for sub in ("paired/train", "unpaired/trainA", "unpaired/trainB"):
    (root / sub).mkdir(parents=True, exist_ok=True)
for i in range(12):
    crops = []
    for _ in range(2):
        image = sources[rng.integers(len(sources))]
        y, x = rng.integers(0, 256, 2)
        crops.append(image[y:y + 256, x:x + 256])
    cv2.imwrite(str(root / "paired/train" / f"{i}.jpg"), np.concatenate(crops, axis=1))
    cv2.imwrite(str(root / "unpaired/trainA" / f"{i}.jpg"), crops[0])
    cv2.imwrite(str(root / "unpaired/trainB" / f"{i}.jpg"), crops[1])
EOF

step "training: real command, fp32 / bf16 / bf16 + channels_last"
for variant in ${VARIANTS:-fp32 bf16 bf16_channels_last}; do  # VARIANTS="fp32 bf16_channels_last": a shorter check
  time_left "training $variant" training || break
  case $variant in
    fp32) extra="--device cuda" ;;
    bf16) extra="--device cuda --precision bf16" ;;
    bf16_channels_last) extra="--device cuda --precision bf16 --channels-last" ;;
    bf16_channels_last_compile) extra="--device cuda --precision bf16 --channels-last --compile" ;;
  esac
  [[ " ${E2E_RECIPES:-pix2pix cyclegan} " == *" pix2pix "* ]] && \
  timeout 150 $PY tools/bench/bench_train.py --end-to-end --device cuda --recipes pix2pix --data-dir "${PAIRED_DATA:-$WORK/data/paired}" \
    --n1 "$N1" --n2 "$N2" --no-synthetic --train-args "$extra" --json "$LOG/train_pix2pix_$variant.json" \
    >>"$LOG/train.log" 2>&1
  [[ " ${E2E_RECIPES:-pix2pix cyclegan} " == *" cyclegan "* ]] && \
  timeout 150 $PY tools/bench/bench_train.py --end-to-end --device cuda --recipes cyclegan --data-dir "${UNPAIRED_DATA:-$WORK/data/unpaired}" \
    --n1 "$N1" --n2 "$N2" --no-synthetic --train-args "$extra" --json "$LOG/train_cyclegan_$variant.json" \
    >>"$LOG/train.log" 2>&1
done

step "training: synthetic steps"
# fp32 convolutions on CUDA use TF32 tensor cores (PyTorch's default, cudnn.allow_tf32); STRICT_FP32=1
# first times the fp32 step with TF32 switched off in NVIDIA's libraries, the ceiling bf16 is measured against
if [ "${STRICT_FP32:-0}" = 1 ] && time_left "strict fp32 steps" synthetic; then
  NVIDIA_TF32_OVERRIDE=0 timeout 90 $PY tools/bench/bench_train.py --device cuda --recipes pix2pix cyclegan --iters 20 --warmup 5 \
    --variants fp32 ${SYNTH_BATCHES:+--batches $SYNTH_BATCHES} --json "$LOG/train_synthetic_strict_fp32.json" \
    >"$LOG/train_synthetic_strict_fp32.log" 2>&1
fi
time_left "synthetic steps" synthetic && timeout 120 $PY tools/bench/bench_train.py --device cuda --recipes pix2pix cyclegan --iters 20 --warmup 5 \
  ${SYNTH_ARGS:---variants fp32 bf16 channels_last bf16_channels_last} --json "$LOG/train_synthetic.json" >"$LOG/train_synthetic.log" 2>&1

step "inference: PyTorch CUDA, onnxruntime CUDA / fp16 / TensorRT"
time_left "inference" inference && timeout 150 $PY tools/bench/bench_infer.py --families cyclegan pix2pix sr-x4 --sizes 256 --batches 1 8 --rounds 3 \
  --no-compile --no-startup --json "$LOG/infer.json" >"$LOG/infer.log" 2>&1

step "translate run --device cuda"
time_left "translate run" run && for model in sr-x4 derain; do
  s=$(date +%s%N)
  timeout 60 $PY -m translate run "$model" docs/samples/astronaut_lr.png -o "$WORK/out_$model.png" --device cuda \
    >>"$LOG/run.log" 2>&1
  echo "$model $? $(( ($(date +%s%N) - s) / 1000000 ))" >>"$WORK/run_times.txt"
done

step "collect"
$PY - "$LOG" "$WORK/run_times.txt" "$OUT/gpu_check.json" <<'EOF'
"""Merge every figure into gpu_check.json."""
import datetime
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "gpu": (out / "gpu.txt").read_text().strip() if (out / "gpu.txt").exists() else None}
try:
    root = ET.parse(out / "gpu_tests.xml").getroot()
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    result["pytest_gpu"] = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
except (OSError, ET.ParseError) as e:
    result["pytest_gpu"] = {"error": str(e)}
train = {}
for f in sorted(out.glob("train_*_*.json")):
    if f.name.startswith("train_synthetic"):
        continue
    try:
        row = json.loads(f.read_text())["end_to_end"][0]
    except (OSError, ValueError, KeyError, IndexError) as e:
        row = {"error": str(e)}
    train[f.stem.removeprefix("train_")] = {k: row.get(k) for k in ("s_per_it", "t_n1", "t_n2", "n1", "n2", "error")}
result["train_end_to_end"] = train
for name, key in (("train_synthetic.json", "train_synthetic"), ("train_synthetic_strict_fp32.json", "train_synthetic_strict_fp32"),
                  ("infer.json", "inference")):
    try:
        result[key] = json.loads((out / name).read_text())
    except (OSError, ValueError) as e:
        result[key] = {"error": str(e)}
runs = {}
try:
    for line in Path(sys.argv[2]).read_text().splitlines():
        model, code, ms = line.split()
        runs[model] = {"exit": int(code), "wall_s": int(ms) / 1000}
except OSError:
    pass
result["translate_run_cuda"] = runs
from translate.fileio import atomic_write_text

atomic_write_text(sys.argv[3], json.dumps(result, indent=2) + "\n")
print(json.dumps({k: result[k] for k in ("gpu", "pytest_gpu", "train_end_to_end", "translate_run_cuda")}, indent=1))
EOF
tar czf "$OUT/gpu_check_logs.tar.gz" -C "$WORK" logs
step "done"
rm -rf "$WORK"
