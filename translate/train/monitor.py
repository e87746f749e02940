"""Watching a training run: TensorBoard scalars / image sheets, ``index.html`` and ``losses.png``.

:class:`Monitor` receives what the trainer logs (loss records, image sheets, validation
metrics) and turns it into things to look at: TensorBoard events (``--tensorboard``; needs the
optional extra ``pip install 'translate-gan[tensorboard]'``), ``RUN_DIR/index.html`` (the image
sheets, newest first, with their iterations, the latest losses and any training-health warnings)
and, at the end,
``RUN_DIR/losses.png`` (a loss curve drawn from losses.jsonl with OpenCV). Every file is
written atomically. No torch at import time.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from translate.errors import TranslateError
from translate.fileio import atomic_write_bytes, atomic_write_text

#: losses.jsonl keys that are bookkeeping, not losses.
NOT_LOSSES = ("iteration", "epoch", "time")
#: The key of a losses.jsonl record that holds a training-health warning (translate.train.health).
WARNING = "warning"
_SHEET_NAME = re.compile(r"^iter_(\d+)\.png$")
# distinct BGR colours (tab10) for the curves
_COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140),
            (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)]


def loss_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """The loss keys of losses.jsonl records, in first-seen order (no lr_*, val_*, bookkeeping)."""
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k not in NOT_LOSSES and not k.startswith(("lr_", "val_")) and isinstance(v, (int, float)):
                names[k] = None
    return list(names)


def health_warnings(records: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """``(iteration, sentence)`` of the training-health warnings in losses.jsonl records."""
    return [(int(r.get("iteration", 0)), str(r[WARNING])) for r in records if WARNING in r]


def sheet_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of the image sheets in ``RUN_DIR/samples``, newest first."""
    folder = Path(run_dir) / "samples"
    found = [(int(m.group(1)), p) for p in folder.glob("iter_*.png") if (m := _SHEET_NAME.match(p.name))]
    return sorted(found, reverse=True)


def write_index(run_dir: str | Path, records: Sequence[dict[str, Any]], title: str = "",
                columns: Sequence[str] = ()) -> Path:
    """Write ``RUN_DIR/index.html``: the latest losses (and validation metrics) and every image
    sheet, newest first, each with its iteration. Links are relative, so the folder can be moved."""
    run_dir = Path(run_dir)
    latest = next((r for r in reversed(records) if WARNING not in r), {})
    warnings = "".join(f"<li>iteration {it}: {html.escape(text)}</li>" for it, text in health_warnings(records))
    val = next((r for r in reversed(records) if any(k.startswith("val_") for k in r)), {})
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_fmt(v)}</td></tr>" for k, v in latest.items())
    val_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in val.items())
    cols = " | ".join(html.escape(c) for c in columns)
    sheets = "".join(
        f'<h3>iteration {it}</h3><a href="samples/{p.name}"><img src="samples/{p.name}" alt="iteration {it}"></a>\n'
        for it, p in sheet_files(run_dir))
    curve = '<h2>loss curve</h2><img src="losses.png" alt="losses">' if (run_dir / "losses.png").exists() else ""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<title>{html.escape(title or run_dir.name)}</title>
<style>body{{font-family:sans-serif;margin:1em}}td,th{{padding:0 .6em;text-align:left}}img{{max-width:100%}}.warn{{color:#a00}}</style>
</head><body>
<h1>{html.escape(title or run_dir.name)}</h1>
{'<h2>training health warnings</h2><ul class="warn">' + warnings + "</ul>" if warnings else ""}
<h2>latest losses</h2><table>{rows or "<tr><td>none logged yet</td></tr>"}</table>
{"<h2>latest validation</h2><table>" + val_rows + "</table>" if val_rows else ""}
{curve}
<h2>image sheets{f" ({cols})" if cols else ""}, newest first</h2>
{sheets or "<p>none yet</p>"}
</body></html>
"""
    path = run_dir / "index.html"
    atomic_write_text(path, page)
    return path


def _fmt(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else html.escape(str(v))


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = (hi - lo) or 1.0
    step = 10 ** math.floor(math.log10(span / count))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= count:
            step *= m
            break
    return [t for t in np.arange(math.ceil(lo / step) * step, hi + step * 1e-9, step)]


def draw_loss_curve(records: Sequence[dict[str, Any]], log_scale: bool | None = None, width: int = 960,
                    height: int = 540) -> np.ndarray:
    """A (height, width, 3) uint8 BGR plot of every loss in ``records`` against the iteration.

    Axes with ticks, one coloured line per loss and a legend. ``log_scale`` None picks a log
    y axis when the losses span more than two decades (and all are positive).
    """
    names = loss_names(records)
    if not names:
        raise ValueError("no loss values to plot")
    series = {n: np.array([(r["iteration"], r[n]) for r in records if isinstance(r.get(n), (int, float))
                           and math.isfinite(r[n])], dtype=np.float64).reshape(-1, 2) for n in names}
    ys = np.concatenate([s[:, 1] for s in series.values()])
    xs = np.concatenate([s[:, 0] for s in series.values()])
    positive = bool((ys > 0).all())
    if log_scale is None:
        log_scale = positive and ys.max() / max(ys.min(), 1e-12) > 100
    if log_scale and not positive:
        log_scale = False  # zeros / negatives (e.g. hinge D losses) cannot go on a log axis
    f = np.log10 if log_scale else (lambda a: a)
    y_lo, y_hi = float(f(ys.min())), float(f(ys.max()))
    if y_hi - y_lo < 1e-12:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    x_lo, x_hi = float(xs.min()), float(max(xs.max(), xs.min() + 1))
    left, right, top, bottom = 80, 20 + 160, 30, 50
    img = np.full((height, width, 3), 255, np.uint8)
    pw, ph = width - left - right, height - top - bottom

    def px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([left + (x - x_lo) / (x_hi - x_lo) * pw, top + ph - (y - y_lo) / (y_hi - y_lo) * ph],
                        axis=1).round().astype(np.int32)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in _nice_ticks(y_lo, y_hi):
        y = int(round(top + ph - (t - y_lo) / (y_hi - y_lo) * ph))
        cv2.line(img, (left, y), (left + pw, y), (230, 230, 230), 1)
        label = f"{10 ** t:.3g}" if log_scale else f"{t:.3g}"
        cv2.putText(img, label, (5, y + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for t in _nice_ticks(x_lo, x_hi):
        x = int(round(left + (t - x_lo) / (x_hi - x_lo) * pw))
        cv2.line(img, (x, top + ph), (x, top + ph + 5), (0, 0, 0), 1)
        cv2.putText(img, f"{t:.0f}", (x - 12, top + ph + 20), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    cv2.putText(img, "iteration", (left + pw // 2 - 30, height - 10), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "loss (log scale)" if log_scale else "loss", (left, top - 10), font, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    for i, (name, s) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        if len(s):
            pts = px(s[:, 0], f(s[:, 1]))
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
            if len(s) == 1:
                cv2.circle(img, tuple(int(v) for v in pts[0]), 3, colour, -1)
        ly = top + 15 + 20 * i
        cv2.line(img, (left + pw + 15, ly - 4), (left + pw + 40, ly - 4), colour, 2)
        cv2.putText(img, name, (left + pw + 45, ly), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def write_loss_curve(records: Sequence[dict[str, Any]], path: str | Path, log_scale: bool | None = None) -> Path:
    """Draw :func:`draw_loss_curve` and write it as a PNG, atomically."""
    ok, data = cv2.imencode(".png", draw_loss_curve(records, log_scale))
    if not ok:
        raise RuntimeError("OpenCV could not encode the loss curve")
    atomic_write_bytes(path, data.tobytes())
    return Path(path)


def tensorboard_writer(log_dir: str | Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` for ``log_dir``; TranslateError if the
    optional ``tensorboard`` package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TranslateError("--tensorboard needs the tensorboard package: pip install 'translate-gan[tensorboard]' "
                             "(or pip install tensorboard), or train without --tensorboard") from None
    return SummaryWriter(log_dir=str(log_dir))


class Monitor:
    """What the trainer tells the outside world besides checkpoints.

    ``enabled=False`` (non-zero ranks under DDP) makes every method a no-op. With
    ``tensorboard`` the events go to ``RUN_DIR/tensorboard``.
    """

    def __init__(self, run_dir: str | Path, tensorboard: bool = False, enabled: bool = True,
                 title: str = "", columns: Sequence[str] = ()):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.title, self.columns = title, tuple(columns)
        self.writer = tensorboard_writer(self.run_dir / "tensorboard") if (enabled and tensorboard) else None

    def scalars(self, record: dict[str, Any]) -> None:
        """Log a losses.jsonl record (losses, learning rates, val metrics) at its iteration."""
        if self.writer is None:
            return
        step = int(record["iteration"])
        for k, v in record.items():
            if k not in ("iteration", "epoch") and isinstance(v, (int, float)) and not isinstance(v, bool):
                group = "val" if k.startswith("val_") else "lr" if k.startswith("lr_") else "loss"
                self.writer.add_scalar(f"{group}/{k}", float(v), step)

    def sheet(self, iteration: int, image: np.ndarray, records: Sequence[dict[str, Any]]) -> None:
        """An image sheet (H, W, 3) float in [0, 1] was written: update index.html and TensorBoard."""
        if not self.enabled:
            return
        if self.writer is not None:
            self.writer.add_image("samples", np.ascontiguousarray(image.clip(0, 1)), iteration, dataformats="HWC")
        write_index(self.run_dir, records, self.title, self.columns)

    def warnings(self, records: Sequence[dict[str, Any]]) -> None:
        """A training-health warning was logged: show it in index.html (and TensorBoard) now."""
        if not self.enabled:
            return
        if self.writer is not None and records and WARNING in records[-1]:
            self.writer.add_text("health", records[-1][WARNING], int(records[-1]["iteration"]))
        write_index(self.run_dir, records, self.title, self.columns)

    def close(self, records: Sequence[dict[str, Any]]) -> None:
        """End of training: write losses.png (when anything was logged) and a final index.html."""
        if not self.enabled:
            return
        if loss_names(records):
            write_loss_curve(records, self.run_dir / "losses.png")
        write_index(self.run_dir, records, self.title, self.columns)
        if self.writer is not None:
            self.writer.close()
            self.writer = None
