#!/usr/bin/env bash
# pix2pix photo -> labels on facades: the reference implementation against `translate train`, each
# trained for the same wall-clock time on the same machine and data, then scored with one protocol
# (`translate eval translation`: nearest of the 12 facades colours, pixel accuracy / mean class
# accuracy / mean class IoU pooled over facades/test, next to the majority-class and nearest-
# neighbour baselines). Runs one after the other, never at once.
#
#   REF=.gpu/ref DATA=.gpu/data/facades SECONDS_EACH=90 DEVICE=cuda bash tools/reference/compare_reference.sh OUT_DIR
#
#   REF    the reference code (junyanz/pytorch-CycleGAN-and-pix2pix: train.py, test.py, models/,
#          data/, options/, util/), unchanged. It is not part of this repository (its own licence):
#          fetch it beside the data.
#   DATA   a folder with train/ (the 360 A|B images of facades/train whose number is not a multiple
#          of 10: tools/ship/train_facades.sh's training split) and test/ (facades/test, 106 images).
#
# Three runs, each stopped by SIGTERM after SECONDS_EACH seconds of wall clock (start-up included):
#   reference  python train.py --model pix2pix --direction AtoB, its defaults (U-Net 256, ngf 64, batch
#              norm, batch 1, 100 + 100 epochs: the cut comes first, so the lr stays constant), saving
#              its latest nets every 200 iterations; scored as its test.py runs it (train-mode batch
#              norm and dropout: the pix2pix paper's test protocol), all 106 test images. REF_ARGS adds
#              options for the reference's version (e.g. --lr_policy step where its networks.py and
#              options disagree on the linear policy's option names).
#   ours       tools/ship/train_facades.sh's documented command (U-Net 256, ngf 16, instance norm, 8 + 4
#              epochs; SIGTERM saves latest.pt at the current iteration).
#   ours-defaults  `translate train pix2pix` with every default (the reference's: U-Net 256, ngf 64,
#              batch norm): the same network and schedule as the reference run, so the difference is
#              the training code alone; scored in eval mode and, as the reference, with --bn-train-mode.
# Output in OUT_DIR: compare.json (scores, iterations, seconds) and samples.tar.gz (input | reference
# | ours | ground truth for 4 test items).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR=${1:?usage: bash tools/reference/compare_reference.sh OUT_DIR}
REF=$(realpath "${REF:-.gpu/ref}")
DATA=$(realpath "${DATA:-.gpu/data/facades}")
SECONDS_EACH=${SECONDS_EACH:-90}
REF_ARGS=${REF_ARGS:-}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
[[ $PY == */* ]] && PY=$(realpath -s "$PY")  # the reference runs from its own folder
T=(${TRANSLATE:-$PY -m translate})
mkdir -p "$OUT_DIR"
OUT_DIR=$(realpath "$OUT_DIR")
WORK=$(mktemp -d /tmp/compare_ref.XXXXXX)
LOG=$WORK/logs
mkdir -p "$LOG"
export PYTHONUNBUFFERED=1
if [ "$DEVICE" = cuda ]; then GPU_IDS=0; else GPU_IDS=-1; fi

timed() {  # name, then the command: run it for SECONDS_EACH s (SIGTERM), record the seconds it took
  local name=$1; shift
  local s; s=$(date +%s%N)
  timeout -s TERM -k 20 "$SECONDS_EACH" "$@" >"$LOG/$name.log" 2>&1
  local code=$?
  echo "$name exit=$code seconds=$(( ($(date +%s%N) - s) / 1000000 ))e-3" | tee -a "$LOG/times.txt"
}

echo "== warm-up (untimed)"
# The first run on a freshly started machine also pays for cold disk caches (torch's libraries, the
# images) and CUDA's first initialisation; both trainers share those, so they are warmed first.
"$PY" -c "import sys, torch, torchvision; torch.zeros(1, device=sys.argv[1]); [p.read_bytes() for d in sys.argv[2:] \
  for p in __import__('pathlib').Path(d).glob('*.jpg')]" "$DEVICE" "$DATA/train" "$DATA/test" >"$LOG/warmup.log" 2>&1
echo "== reference: train.py"
(cd "$REF" && timed reference "$PY" train.py --dataroot "$DATA" --name facades_ref --model pix2pix --direction AtoB \
   --gpu_ids "$GPU_IDS" --checkpoints_dir "$WORK/ref_ckpt" --save_latest_freq 200 --print_freq 200 $REF_ARGS)
echo "== reference: its test protocol on facades/test"
# What its test.py does without --eval (the pix2pix paper's protocol): the generator in train mode
# (batch norm on the test image's statistics, dropout on), each A half resized to 256 (load_size =
# crop_size = 256 at test time), normalised to [-1, 1], util.tensor2im / util.save_image on the output.
# Its own test.py is not used because its options/test_options.py is not among the reference files
# we could retrieve; the lines below call the reference's own networks and util functions.
(cd "$REF" && "$PY" - "$WORK/ref_ckpt/facades_ref/latest_net_G.pth" "$DATA/test" "$WORK/ref_results" "$GPU_IDS" \
   >"$LOG/reference_test.log" 2>&1 <<'PYEOF'
import sys
from pathlib import Path

import torch
import torchvision.transforms as transforms
from PIL import Image

from models import networks
from util import util

weights, test_dir, out_dir, gpu = sys.argv[1:5]
device = torch.device("cuda:0" if gpu != "-1" else "cpu")
net = networks.define_G(3, 3, 64, "unet_256", "batch", True, "normal", 0.02, [])  # train.py's pix2pix defaults
state = torch.load(weights, map_location="cpu")
state = {k.removeprefix("_orig_mod."): v for k, v in state.items()}  # saved from the torch.compile wrapper
net.load_state_dict(state)
net.to(device).train()
to_tensor = transforms.Compose([transforms.Resize((256, 256), Image.BICUBIC), transforms.ToTensor(),
                                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
Path(out_dir).mkdir(parents=True, exist_ok=True)
files = sorted(Path(test_dir).glob("*.jpg"))
with torch.no_grad():
    for path in files:
        ab = Image.open(path).convert("RGB")
        w, h = ab.size
        a = to_tensor(ab.crop((0, 0, w // 2, h))).unsqueeze(0).to(device)
        util.save_image(util.tensor2im(net(a)), str(Path(out_dir) / f"{path.stem}_fake_B.png"))
print(f"{len(files)} test images translated")
PYEOF
)
REF_IMAGES=$WORK/ref_results

COMMON=(--direction AtoB --device "$DEVICE" --seed 0 --print-every 200 --sample-every 1000 --save-every 500
        --save-every-epochs 0)
echo "== ours: the documented facades command"
timed ours "${T[@]}" train pix2pix --data "$DATA" --out "$WORK/ours" --netG unet_256 --ngf 16 --ndf 32 \
  --norm instance --epochs 8 --epochs-decay 4 "${COMMON[@]}"
echo "== ours: every default (the reference's network and schedule)"
timed ours-defaults "${T[@]}" train pix2pix --data "$DATA" --out "$WORK/ours_defaults" "${COMMON[@]}"

echo "== scores"
"${T[@]}" eval translation --model "$WORK/ours" --data "$DATA/test" --palette facades --device "$DEVICE" \
  --predictions "$REF_IMAGES" --prediction-suffix _fake_B --json >"$WORK/scores_ours.json" 2>"$LOG/eval_ours.log"
"${T[@]}" eval translation --model "$WORK/ours_defaults" --data "$DATA/test" --palette facades --device "$DEVICE" \
  --json >"$WORK/scores_ours_defaults.json" 2>"$LOG/eval_ours_defaults.log"
# the same batch-norm run scored with the reference's test protocol (train-mode batch norm and dropout)
"${T[@]}" eval translation --model "$WORK/ours_defaults" --data "$DATA/test" --palette facades --device "$DEVICE" \
  --bn-train-mode --json >"$WORK/scores_ours_defaults_train_mode.json" 2>"$LOG/eval_ours_defaults_train_mode.log"

mkdir -p "$WORK/samples"
for n in 1 2 3 4; do cp "$DATA/test/$n.jpg" "$WORK/samples/${n}_test.jpg" 2>/dev/null; cp "$REF_IMAGES/${n}_fake_B.png" "$WORK/samples/${n}_reference.png" 2>/dev/null; done
mkdir -p "$WORK/inputs" && for n in 1 2 3 4; do "$PY" -c "import cv2,sys; a=cv2.imread(sys.argv[1]); cv2.imwrite(sys.argv[2], a[:, :a.shape[1]//2])" "$DATA/test/$n.jpg" "$WORK/inputs/$n.png"; done
"${T[@]}" run "$WORK/ours" "$WORK/inputs" -o "$WORK/samples/ours" --device "$DEVICE" >>"$LOG/samples.log" 2>&1
"${T[@]}" run "$WORK/ours_defaults" "$WORK/inputs" -o "$WORK/samples/ours_defaults" --device "$DEVICE" >>"$LOG/samples.log" 2>&1

"$PY" - "$WORK" "$OUT_DIR/compare.json" "$SECONDS_EACH" "$DEVICE" <<'EOF'
"""compare.json: the scores of each run, the iterations it reached and the seconds it took."""
import json
import re
import subprocess
import sys
from pathlib import Path

from translate.models.checkpoint import read_checkpoint
from translate.errors import TranslateError
from translate.fileio import atomic_write_text

work, out, seconds, device = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
result = {"seconds_each": seconds, "device": device, "runs": {}}
try:
    result["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=20).stdout.strip() or None
except (OSError, subprocess.SubprocessError):
    result["gpu"] = None
times = {}
times_path = work / "logs" / "times.txt"
for line in (times_path.read_text().splitlines() if times_path.exists() else []):
    name, code, secs = line.split()
    times[name] = {"exit": int(code.split("=")[1]), "seconds": float(secs.split("=")[1])}
ref_log_path = work / "logs" / "reference.log"
ref_log = ref_log_path.read_text(errors="replace") if ref_log_path.exists() else ""
saves = re.findall(r"saving the latest model \(epoch (\d+), total_iters (\d+)\)", ref_log)
iters = re.findall(r"\(epoch: (\d+), iters: \d+, time: [\d.]+, data: [\d.]+\)", ref_log)
result["runs"]["reference"] = {**times.get("reference", {}), "scored_iteration": int(saves[-1][1]) if saves else None,
                               "epochs_started": int(iters[-1]) if iters else None}
for name, folder in (("ours", "ours"), ("ours-defaults", "ours_defaults")):
    row = dict(times.get(name, {}))
    try:  # the checkpoint's one reader; mmap: only its small entries are looked at
        row["scored_iteration"] = int(read_checkpoint(work / folder / "checkpoints" / "latest.pt", mmap=True)["iteration"])
    except (TranslateError, OSError, KeyError) as e:  # recorded, not fatal: the scores still say what they say
        row["scored_iteration_error"] = f"{type(e).__name__}: {e}"
    result["runs"][name] = row
for key, file in (("scores", "scores_ours.json"), ("scores_ours_defaults", "scores_ours_defaults.json"),
                  ("scores_ours_defaults_train_mode", "scores_ours_defaults_train_mode.json")):
    try:
        report = json.loads((work / file).read_text())
        result[key] = report.get("pooled") or {m: v.get("mean") for m, v in report["methods"].items()}
    except (OSError, ValueError, KeyError) as e:
        result[key] = {"error": str(e)}
atomic_write_text(out, json.dumps(result, indent=2) + "\n")
print(json.dumps(result, indent=1))
EOF
tar czf "$OUT_DIR/compare_samples.tar.gz" -C "$WORK" samples logs
rm -rf "$WORK"
