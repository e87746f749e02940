"""The steps of tools/gpu/train_cut_gpu.sh that need more than a shell: training to a wall-clock
deadline, splitting weights into parts the device tool can bring back, the report, and fetching
the parts a first call could not bring back.

    python tools/gpu/train_cut_gpu.py train --run RUN --seconds S --summary FILE.json --logs DIR [--warmup-s W] RECIPE -- ARGS...
    python tools/gpu/train_cut_gpu.py pack FILE.safetensors --out OUT --keep KEEP
    python tools/gpu/train_cut_gpu.py fetch --out OUT --keep KEEP
    python tools/gpu/train_cut_gpu.py report --work WORK --keep KEEP --report OUT/report.json

`translate train` has no time limit, only an epoch plan (--epochs at the full learning rate, then
--epochs-decay of linear decay) and a SIGTERM that saves the checkpoint and stops. `train` turns a
number of seconds into an epoch plan: it starts the run with the recipe's own plan, measures the
seconds per iteration from losses.jsonl (the first record, which holds the start-up, left out),
stops the run with SIGTERM, and resumes it with the epochs that fit in the seconds left, split
between full and decaying learning rate as the recipe's plan splits them (100 + 100 for pix2pix,
200 + 200 for CUT, 150 + 50 for FastCUT) and never longer than that plan (or the --epochs and
--epochs-decay given: a smoke test's short plan ends before its deadline). The epochs run so far were at the full rate, which every
plan starts with, so the result is that of a run started with the final plan. If the run is still
going at the deadline it is stopped with SIGTERM (its checkpoint saved) and the summary says so.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run from a checkout that is not installed (the lent machine: PYTHONPATH)

from translate.fileio import atomic_write_text
from translate.models.weights import sha256_file
from translate.train.runlog import read_log

# What one device call brings back from $OUT (/work/.library/device/README.md, "Limits"): at most
# 8 files of at most 16 MiB each, 64 MiB together.
RETURN_FILES = 8
RETURN_MIB = 64
PART_MIB = 15  # a part of a weights file: under the 16 MiB a returned file may have
# The files the script writes to $OUT besides weights (kept small: RESERVED_MIB for those still to come).
RESERVED = ("steps.log", "report.json", "logs.tar.gz")
RESERVED_MIB = 4
STOP_GRACE_S = 45  # SIGTERM -> checkpoint saved and exit; then SIGKILL
# The plan fills this share of the seconds left: the resumed run's start (loading the checkpoint)
# may take longer than the warm-up's, and a plan that ends before the deadline is a complete one.
PLAN_MARGIN = 0.95
STOPPED_AT = re.compile(r"SIGTERM at iteration (\d+)")
FINISHED_AT = re.compile(r"trained \S+ to iteration (\d+)")  # the summary line of a run that ended its plan
PROGRESS = re.compile(r"iteration=(\d+)/(\d+)")
MIB = 1 << 20


def read_records(run: Path) -> list[dict]:
    """The timed loss records of ``run``/losses.jsonl (health warnings and validations left out)."""
    return [r for r in read_log(run / "losses.jsonl")
            if r.get("time", 0) > 0 and "health" not in r and "iteration" in r]


def seconds_per_iteration(records: list[dict]) -> float | None:
    """Mean seconds per iteration over the records after the first (whose window holds the start-up);
    each record's ``time`` is the mean over the iterations since the one before it."""
    if len(records) < 2:
        return None
    spent = sum(r["time"] * (r["iteration"] - p["iteration"]) for p, r in itertools.pairwise(records))
    return spent / (records[-1]["iteration"] - records[0]["iteration"])


def loop_done(log: Path) -> bool:
    """Whether the run logging to ``log`` has done its last planned iteration (it is saving and closing:
    a SIGTERM now would end it outside the training loop, without its last checkpoint)."""
    found = PROGRESS.findall(log.read_text(errors="replace")) if log.exists() else []
    return bool(found) and found[-1][0] == found[-1][1]


def run_until(cmd: list[str], log: Path, deadline: float, stop_early=None) -> tuple[int, float]:
    """Run ``cmd`` (output to ``log``) until it exits, ``stop_early()`` is true or ``deadline``
    (time.monotonic) passes; then SIGTERM, and SIGKILL after STOP_GRACE_S. A run past its last
    iteration at the deadline is given STOP_GRACE_S to finish first. Returns the exit code and the
    wall seconds. The command runs in a process group of its own, so its data-loading workers are
    stopped with it."""
    start = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None:
            if time.monotonic() >= deadline or (stop_early is not None and stop_early()):
                if loop_done(log):
                    try:
                        proc.wait(STOP_GRACE_S)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                break
            time.sleep(0.1)
    return proc.returncode, time.monotonic() - start


def stopped_at(log: Path, pattern: re.Pattern = STOPPED_AT) -> int | None:
    """The iteration a SIGTERM stopped the run at, from its log ("SIGTERM at iteration N: saved ..."),
    or with ``pattern=FINISHED_AT`` the one it ended its plan at ("trained pix2pix to iteration N")."""
    found = pattern.findall(log.read_text(errors="replace")) if log.exists() else []
    return int(found[-1]) if found else None


def checkpoint_iteration(run: Path) -> int:
    """The iteration of ``run``/checkpoints/latest.pt (mapped, not read: its tensors stay on disk)."""
    from translate.models.checkpoint import read_checkpoint

    return int(read_checkpoint(run / "checkpoints" / "latest.pt", mmap=True)["iteration"])


def plan_epochs(iterations: float, iters_per_epoch: int, preset: tuple[int, int], epochs_run: int) -> tuple[int, int]:
    """(epochs at the full rate, epochs of decay) for a run of about ``iterations`` iterations, split
    as the recipe's ``preset`` plan splits them; never longer than the preset (the paper's plan), never
    fewer full-rate epochs than ``epochs_run`` (begun at the full rate already) or than one."""
    total = max(1, int(iterations // iters_per_epoch))
    if total >= sum(preset):
        return preset
    full = max(epochs_run, 1, int(total * preset[0] / sum(preset) + 0.5))
    return full, max(0, total - full)


def train(args: argparse.Namespace) -> int:
    """The ``train`` command: warm-up, measured plan, resumed run to the deadline; writes the summary."""
    start = time.monotonic()
    deadline = start + args.seconds
    run, log_dir = Path(args.run), Path(args.logs)
    log_dir.mkdir(parents=True, exist_ok=True)
    warm_log, main_log = log_dir / f"{run.name}.warmup.log", log_dir / f"{run.name}.train.log"
    base = [args.python, "-m", "translate", "train"]
    summary: dict = {"recipe": args.recipe, "run": str(run), "seconds": args.seconds, "args": args.train_args}
    warm_until = start + max(args.warmup_s, 0.5 * args.seconds)

    def warmed_up() -> bool:
        # Never before the first progress line: a SIGTERM that comes before the training loop
        # (imports, CUDA start) ends the process without a checkpoint.
        if not warm_log.exists() or not PROGRESS.search(warm_log.read_text(errors="replace")):
            return False
        now = time.monotonic()
        return now >= warm_until or (now - start >= args.warmup_s
                                     and seconds_per_iteration(read_records(run)) is not None)

    # 1. warm-up with the recipe's own plan (config.json keeps it), stopped once timed
    code, wall = run_until(base + [args.recipe, "--out", str(run), *args.train_args], warm_log, deadline, warmed_up)
    records = read_records(run)
    s_it = seconds_per_iteration(records)
    if not (run / "config.json").exists() or not (run / "checkpoints" / "latest.pt").exists():
        summary["error"] = f"the warm-up run made no checkpoint (exit {code}); see {warm_log.name}"
        return finish(args, summary, 1)
    config = json.loads((run / "config.json").read_text())
    preset = (int(config["epochs"]), int(config["epochs_decay"]))
    totals = PROGRESS.findall(warm_log.read_text(errors="replace"))
    finished, stopped = stopped_at(warm_log, FINISHED_AT), stopped_at(warm_log)
    done = finished or stopped or checkpoint_iteration(run)
    summary["warmup"] = {"exit": code, "wall_s": round(wall, 2), "iterations": done, "preset_epochs": list(preset),
                         "s_per_it": s_it}
    if finished is not None or stopped is None or time.monotonic() >= deadline - 1:
        # the preset plan ended, the run failed, or the deadline came during the warm-up: no second run
        final = {"exit": code, "completed": finished is not None, "iterations": done, "s_per_it": s_it}
        if finished is None:
            final["why"] = ("stopped at the deadline during the warm-up (checkpoint saved)" if stopped is not None
                            else f"exit {code} before its summary line: the checkpoint's iteration; see {warm_log.name}")
        summary["final"] = final
        return finish(args, summary, 0 if finished is not None or stopped is not None else 1)
    if s_it is None:
        # Not timed (start-up took the warm-up): keep the preset plan, the deadline stops it
        plan = preset
        summary["plan"] = {"epochs": plan[0], "epochs_decay": plan[1], "sized": False,
                           "why": "no timing within the warm-up: the preset plan, stopped at the deadline"}
    else:
        iters_per_epoch = int(totals[-1][1]) // sum(preset)
        overhead = max(0.0, wall - done * s_it)  # start-up, first iterations, the stop's save
        iterations = done + PLAN_MARGIN * max(0.0, deadline - time.monotonic() - overhead) / s_it
        plan = plan_epochs(iterations, iters_per_epoch, preset, math.ceil(done / iters_per_epoch))
        summary["plan"] = {"epochs": plan[0], "epochs_decay": plan[1], "sized": True,
                           "iterations": sum(plan) * iters_per_epoch, "iters_per_epoch": iters_per_epoch,
                           "overhead_s": round(overhead, 2)}
    # 2. the measured plan, to its end or the deadline
    code, wall = run_until(base + ["--resume", str(run), "--epochs", str(plan[0]), "--epochs-decay", str(plan[1])],
                           main_log, deadline)
    after = [r for r in read_records(run) if r["iteration"] > done]
    finished, stopped = stopped_at(main_log, FINISHED_AT), stopped_at(main_log)
    # A run that printed its summary line has saved its last checkpoint, even if the SIGTERM of the
    # deadline then reached it on its way out (exit -15)
    final = {"exit": code, "wall_s": round(wall, 2), "completed": finished is not None,
             "s_per_it": seconds_per_iteration(after)}
    if finished is not None:
        final["iterations"] = finished
    elif stopped is not None:
        final["iterations"] = stopped
        final["why"] = "stopped at the deadline (checkpoint saved; the learning rate had not decayed to 0)"
    else:  # killed outside the training loop (or failed): the checkpoint on disk says where it is
        final["iterations"] = checkpoint_iteration(run)
        final["why"] = f"exit {code} before its summary line: the checkpoint's iteration; see {main_log.name}"
    if after:
        final["losses"] = {k: v for k, v in after[-1].items() if k not in ("iteration", "epoch", "time")}
    summary["final"] = final
    return finish(args, summary, 0 if finished is not None or stopped is not None else 1)


def finish(args: argparse.Namespace, summary: dict, code: int) -> int:
    """Write the summary of ``train`` and print it on one line."""
    summary["exit"] = code
    atomic_write_text(args.summary, json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return code


def returned(out: Path) -> tuple[int, int]:
    """(files, bytes) under ``out`` now."""
    files = [p for p in out.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def load_manifest(keep: Path) -> dict:
    path = keep / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def fits(out: Path, files: int, size: int, reserve: bool) -> bool:
    """Whether ``files`` more files of ``size`` bytes together still come back from ``out``, leaving
    room for the script's own files (``reserve``: a place for each of RESERVED not written yet, and
    RESERVED_MIB, as they are rewritten and grow after each step)."""
    have_files, have_bytes = returned(out)
    missing = [name for name in RESERVED if not (out / name).exists()] if reserve else []
    extra_files, extra_bytes = len(missing), (RESERVED_MIB * MIB if reserve else 0)
    return (have_files + files + extra_files <= RETURN_FILES
            and have_bytes + size + extra_bytes <= RETURN_MIB * MIB)


def pack(args: argparse.Namespace) -> int:
    """The ``pack`` command: split a weights file into parts under PART_MIB; into $OUT when all its
    parts still come back with this call, else kept under KEEP/parts for ``fetch``."""
    path, out, keep = Path(args.file), Path(args.out), Path(args.keep)
    part_bytes = int(args.part_mib * MIB)
    size = path.stat().st_size
    count = max(1, math.ceil(size / part_bytes))
    here = fits(out, count, size, reserve=True)
    dest = out if here else keep / "parts"
    dest.mkdir(parents=True, exist_ok=True)
    parts = []
    with open(path, "rb") as f:
        for i in range(count):
            name = path.name if count == 1 else f"{path.name}.part{i:0{len(str(count - 1))}d}"  # sorts as cat's glob
            data = f.read(part_bytes)
            (dest / name).write_bytes(data)
            parts.append({"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                          "returned": "this call" if here else None})
    manifest = load_manifest(keep)
    manifest[path.stem] = {"file": path.name, "bytes": size, "sha256": sha256_file(path), "parts": parts,
                           "kept_at": str(path), "join": f"cat {path.name}.part* > {path.name}" if count > 1 else None}
    atomic_write_text(keep / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    where = "in $OUT" if here else f"kept in {dest} (too large to come back with this call: see fetch)"
    print(f"{path.name}: {size / 1e6:.1f} MB, {count} part(s) {where}")
    return 0


def fetch(args: argparse.Namespace) -> int:
    """The ``fetch`` command (a later call on the same, still warm machine): copy the parts not yet
    brought back to $OUT, as many as one call brings back, and list them in $OUT/fetch.json."""
    out, keep = Path(args.out), Path(args.keep)
    manifest = load_manifest(keep)
    if not manifest:
        print(f"nothing to fetch: no {keep / 'manifest.json'} (a fresh machine: the first call's files are gone)")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    calls = 1 + max((int(p["returned"].split()[-1]) for m in manifest.values() for p in m["parts"]
                     if p["returned"] and p["returned"].startswith("fetch")), default=0)
    brought = []
    for model in manifest.values():
        for part in model["parts"]:
            if part["returned"] or not fits(out, 2, part["bytes"], reserve=False):  # 2: this part and fetch.json
                continue
            shutil.copyfile(keep / "parts" / part["name"], out / part["name"])
            part["returned"] = f"fetch {calls}"
            brought.append(part["name"])
    left = [p["name"] for m in manifest.values() for p in m["parts"] if not p["returned"]]
    atomic_write_text(keep / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    atomic_write_text(out / "fetch.json", json.dumps({"fetch": calls, "brought": brought, "left": left,
                                                      "weights": manifest}, indent=1) + "\n")
    print(f"fetch {calls}: {len(brought)} part(s) in $OUT, {len(left)} left")
    return 0


def report(args: argparse.Namespace) -> int:
    """The ``report`` command: every figure of the call so far in one JSON (rewritten after each step)."""
    work, keep = Path(args.work), Path(args.keep)
    result: dict = {"script": "tools/gpu/train_cut_gpu.sh", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    machine = work / "machine.json"
    if machine.exists():
        result["machine"] = json.loads(machine.read_text())
    steps = []
    timings = work / "timings.tsv"
    if timings.exists():
        for line in timings.read_text().splitlines():
            name, begin, end = line.rsplit("\t", 2)
            steps.append({"step": name, "start_s": int(begin), "seconds": int(end) - int(begin)})
    result["steps"] = steps
    result["training"] = {p.stem: json.loads(p.read_text()) for p in sorted((work / "train").glob("*.json"))}
    scores = {}
    for path in sorted((work / "eval").glob("*.json")):
        try:
            report_json = json.loads(path.read_text())
        except ValueError as e:
            scores[path.stem] = {"error": f"{path.name}: {e}"}
            continue
        scores[path.stem] = {"settings": report_json.get("settings"),
                             **{method: v.get("mean") for method, v in report_json.get("methods", {}).items()}}
    result["scores"] = scores
    result["weights"] = load_manifest(keep)
    atomic_write_text(args.report, json.dumps(result, indent=1) + "\n")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train RECIPE to a wall-clock deadline")
    t.add_argument("recipe")
    t.add_argument("--run", required=True, help="run folder (must not hold a run yet)")
    t.add_argument("--seconds", type=float, required=True, help="wall seconds for the whole step, warm-up included")
    t.add_argument("--warmup-s", type=float, default=20.0, help="seconds of the timed warm-up (at least)")
    t.add_argument("--summary", required=True, help="JSON summary written here")
    t.add_argument("--logs", required=True, help="folder of the two runs' output")
    t.add_argument("--python", default=sys.executable)
    t.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the options of translate train RECIPE")
    k = sub.add_parser("pack", help="split a weights file into parts that come back ($OUT) or wait (KEEP)")
    k.add_argument("file")
    k.add_argument("--out", required=True)
    k.add_argument("--keep", required=True)
    k.add_argument("--part-mib", type=float, default=PART_MIB)
    f = sub.add_parser("fetch", help="bring back kept parts (a later call on the same machine)")
    f.add_argument("--out", required=True)
    f.add_argument("--keep", required=True)
    r = sub.add_parser("report", help="write the call's report.json")
    r.add_argument("--work", required=True)
    r.add_argument("--keep", required=True)
    r.add_argument("--report", required=True)
    args = p.parse_args()
    if args.command == "train":
        args.train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
        return train(args)
    return {"pack": pack, "fetch": fetch, "report": report}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
