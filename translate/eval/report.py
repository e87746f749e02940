"""Benchmarks behind `translate eval` score a model against references, per image and on average:
this module holds the report they all return and its table.

Each task is one function returning an :class:`EvalReport` (methods -> per-image
:class:`Score` rows), so `translate eval <task>` only adds a parser entry and a call; printing
and JSON are shared (:func:`format_report`, :meth:`EvalReport.to_dict`). The task functions live
in :mod:`translate.eval.restoration` (sr, derain, inpaint) and :mod:`translate.eval.translation`
(paired translation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["Score", "EvalReport", "format_report"]

METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


@dataclass
class Score:
    """The metrics of one output image against its reference."""

    image: str
    psnr_y: float
    ssim_y: float
    psnr_rgb: float
    ssim_rgb: float


@dataclass
class EvalReport:
    """Per-image scores of each method (e.g. ``"bicubic"``, ``"model"``) on one data set."""

    task: str
    data: str
    settings: dict[str, Any]
    methods: dict[str, list[Any]] = field(default_factory=dict)
    #: attribute names of the rows (a :class:`Score` by default; inpainting rows are :class:`HoleScore`)
    metrics: tuple[str, ...] = METRICS
    #: method -> metric -> value computed over the whole set at once (label-map scores from one
    #: confusion matrix, FID / KID); it replaces the per-image average of that metric
    pooled: dict[str, dict[str, float]] = field(default_factory=dict)

    def mean(self, method: str) -> dict[str, float]:
        """Each metric of ``method`` over the data set: its pooled value where there is one, else
        the average over the images (PSNR averaged in dB, as the tables do)."""
        rows, pooled = self.methods[method], self.pooled.get(method, {})
        return {m: float(pooled[m]) if m in pooled else float(np.mean([getattr(r, m) for r in rows]))
                for m in self.metrics if m in pooled or (rows and hasattr(rows[0], m))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: task, data, settings, and per method its mean and per-image rows."""
        return {"task": self.task, "data": self.data, "settings": dict(self.settings),
                "methods": {name: {"mean": self.mean(name), "images": [asdict(r) for r in rows]}
                            for name, rows in self.methods.items()}}


def _fmt(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    if metric.startswith("psnr") or metric == "fid":
        return "inf" if math.isinf(v) else f"{v:.2f}"
    return f"{v:.4f}"


def format_report(report: EvalReport, per_image: bool = True) -> str:
    """A plain-text table: one line per image and method (when ``per_image``), then the means."""
    metrics = report.metrics
    head = f"{'image':<24} {'method':<10} " + " ".join(f"{m:>9}" for m in metrics)
    lines = [f"{report.task} on {report.data} " + " ".join(f"{k}={v}" for k, v in report.settings.items()), head]
    if per_image:
        names = [r.image for r in next(iter(report.methods.values()), [])]
        for i, name in enumerate(names):
            for method, rows in report.methods.items():
                lines.append(f"{name[:24]:<24} {method:<10} " + " ".join(
                    f"{_fmt(getattr(rows[i], m, None), m):>9}" for m in metrics))
    n = len(next(iter(report.methods.values()), []))
    # ALL: every number is computed over the whole set at once; MEAN: (some are) per-image averages
    pooled = all(set(metrics) <= set(report.pooled.get(m, {})) for m in report.methods)
    label = f"{'ALL' if pooled else 'MEAN'} ({n} images)"
    for method in report.methods:
        mean = report.mean(method)
        lines.append(f"{label:<24} {method:<10} " + " ".join(f"{_fmt(mean.get(m), m):>9}" for m in metrics))
    return "\n".join(lines)
