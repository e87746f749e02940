"""What a training run writes down as it goes: the loss log, image sheets and the progress line.

``RUN_DIR/losses.jsonl`` holds one JSON object per ``--print-every`` iterations (iteration,
``epoch``: the full epochs done, as the checkpoint counts them; ``time``: the mean seconds per
iteration since the previous record; learning rates, losses; also validation scores and
training-health warnings); it is only ever appended to, flushed and fsynced, and on resume trimmed back to the
checkpoint's iteration, so each iteration is logged once. :func:`read_log` reads it back
(:mod:`translate.train.monitor` draws ``losses.png`` and ``index.html`` from it). Image sheets
(``samples/iter_*.png``) tile the recipe's sample columns with :func:`make_sheet`;
:func:`progress_line` is the line printed when stderr is no terminal (no progress bar): a first
one after the first iteration, then at most one every :data:`PRINT_SECONDS`, each with the mean
seconds per iteration since the previous line (a :class:`Window`) and the ETA it gives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from translate.fileio import WriteError, atomic_write_text

SHEET_ROWS = 4  # batch items shown per sample sheet
PRINT_SECONDS = 10.0  # at most one progress line this often when stderr is no terminal


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] with C = 1 or 3 -> (H, W, 3) float32 in [0, 1]."""
    a = ((t.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


def make_sheet(columns: list[torch.Tensor], rows: int = SHEET_ROWS) -> np.ndarray:
    """Tile (B, C, H, W) tensors: one row per batch item (at most ``rows``), one column each."""
    n = min(rows, columns[0].shape[0])
    return np.concatenate([np.concatenate([tensor_to_rgb(c[i]) for c in columns], axis=1) for i in range(n)],
                          axis=0)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a losses.jsonl file (a torn last line from a crash is ignored)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def trim_log(path: Path, iteration: int) -> None:
    """Drop the records of ``path`` after ``iteration`` (the resumed checkpoint's)."""
    # After a crash the log may run past the checkpoint (or end in a torn line); keep only
    # the records up to the checkpoint so the resumed run logs each iteration once.
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    kept = "".join(json.dumps(r) + "\n" for r in read_log(path) if r.get("iteration", 0) <= iteration)
    if kept != text:
        atomic_write_text(path, kept)


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to the losses.jsonl at ``path`` as one line."""
    # An append-only log (rewriting it whole every few iterations would cost O(n^2));
    # flushed and fsynced so it never runs behind the checkpoints.
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise WriteError(path, e) from None


class Window(NamedTuple):
    """The start of a timing window: an iteration count and the clock's reading then."""

    iteration: int
    time: float

    def mean(self, iteration: int, now: float) -> float:
        """Mean seconds per iteration from the window's start to ``iteration`` at ``now`` (0 if none)."""
        # A plain mean over the window, not an exponential one: the number is exactly "wall time /
        # iterations" since the previous line, time spent on sheets and checkpoints included, and
        # the first iteration's warm-up (cuDNN autotuning, --compile) only weighs on the first line.
        done = iteration - self.iteration
        return (now - self.time) / done if done > 0 else 0.0


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (hours not wrapped at a day), rounded to the second."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def eta_seconds(seconds_per_iter: float, iteration: int, total: int) -> float:
    """Seconds left: the mean seconds per iteration times the iterations left."""
    return seconds_per_iter * max(total - iteration, 0)


def progress_line(record: dict[str, Any], total: int | None = None, seconds_per_iter: float | None = None) -> str:
    """A log record as one ``key=value`` line (printed instead of the progress bar).

    With ``total`` the iteration reads ``iteration=I/TOTAL``; with ``seconds_per_iter`` (a mean)
    and ``total`` the record's ``time`` gives way to ``s/it=MEAN eta=H:MM:SS`` (MEAN times the
    iterations left), e.g. ``iteration=120/1000 epoch=2 s/it=2.27 eta=0:33:18 lr_G=0.0002 G_L1=12.3``.
    """
    def fmt(k: str, v: Any) -> str:
        return f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"

    parts = []
    for k, v in record.items():
        if k == "iteration" and total is not None:
            parts.append(f"iteration={v}/{total}")
        elif k == "time" and seconds_per_iter is not None and total is not None:
            eta = eta_seconds(seconds_per_iter, int(record.get("iteration", 0)), total)
            parts.append(f"s/it={seconds_per_iter:.3g} eta={format_duration(eta)}")
        else:
            parts.append(fmt(k, v))
    return " ".join(parts)
