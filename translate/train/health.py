"""Training health: notice, cheaply, when a GAN goes wrong, and say in one sentence what to try.

The trainer hands every iteration's losses to :class:`HealthMonitor` (a few float additions) and,
every ``--health-every`` iterations, lets it look closer; it looks at the generator's outputs more
often early on (:func:`outputs_due`), where collapse sets in. It watches what the recipe declares in
its :class:`~translate.train.recipes.HealthSignals` (which losses are the discriminator's, which are
the generators' adversarial terms, which sheet columns are generator outputs) plus the gradient
norms of every net, and reports four failures every GAN course teaches:

* **discriminator winning**: every D loss below :data:`D_WIN_LOSS` for :data:`D_WIN_CHECKS`
  intervals in a row. 0.05 is where D is right on nearly every patch in every bounded loss:
  vanilla BCE 0.05 means it gives the right answer with probability ~0.95 on (geometric) average,
  LSGAN's MSE 0.05 keeps its outputs within ~0.22 of the 0 / 1 labels (all on the right side of
  0.5), hinge 0.05 leaves almost no patch inside the margin. A healthy GAN keeps D around 0.2-0.7
  (BCE); a few intervals at 0.05 can be luck, five in a row (250 iterations at the default) is a
  trend. WGAN-GP's critic loss is unbounded, so this check is off for it.
* **oscillation**: an adversarial loss whose interval means swing up and down without a trend
  over the last :data:`OSC_WINDOW` intervals: the swing is real (the spread of the interval means
  is :data:`OSC_SIGNIFICANCE` x what per-iteration noise alone gives, like an F-test), large
  (:data:`OSC_RELATIVE` of the loss's level), changes direction at least
  :data:`OSC_TURNS` times in 7 steps, and a straight line explains under :data:`OSC_TREND_R2` of
  it (a steady rise or fall is a trend, not a swing).
* **collapse / constant output**: over the last :data:`COLLAPSE_IMAGES` inputs (images of the
  sheets, area-pooled to 32x32), the generator's outputs vary across inputs by less than
  :data:`COLLAPSE_RATIO` of what its inputs vary, and by less than :data:`COLLAPSE_OF_REFERENCE` of
  what real images of the output domain (the targets) vary: it paints about the same picture
  whatever it is given. Measured on tiny pix2pix nets: the all-white sat2mask generator (its
  targets are 99.6% white) sits at 0.2-4% of its inputs' variety after ~150 iterations, healthy
  facades runs at 12-55% from the first checks on; the second condition spares a generator whose
  targets are themselves nearly alike and which reproduces their variety. An untrained
  generator's outputs can be all near grey, so this is judged only from iteration
  :data:`COLLAPSE_WARMUP_ITERS` on. The outputs are sampled every :data:`OUTPUTS_EARLY_EVERY`
  iterations up to iteration :data:`OUTPUTS_EARLY_ITERS` (then every ``--health-every``): at the
  default ``--health-every 50`` alone, the 8 inputs and a warm-up of 10 checks took 500-900
  iterations before the check could speak. Measured on the sat2mask pix2pix of issue 20 (unet_128,
  ngf 16, ndf 16, 128 px crops, instance norm, other options default): first below both thresholds
  at iteration 440 (reported there now, at 850 before); the same net on facades stays at 25-72% of
  its inputs' variety from iteration 40 to 900. A look costs pooling the last step's sheet images
  (no network call): the whole monitor took 0.6% of that run's first 1000 iterations (2-core CPU
  shared with other jobs; 0.6% with the old schedule too: the extra looks are lost in the noise).
* **gradients**: a net's gradient norm that is NaN / Inf (not under fp16, whose GradScaler skips
  such steps by design), or :data:`GRAD_EXPLODE` x above its median of the earlier checks for
  :data:`GRAD_HIGH_CHECKS` checks in a row; GAN gradient norms wander by factors of a few, and a
  single spike is common (a tiny facades run's saturated D once jumped 364x for one check), two
  orders of magnitude that last are an explosion.

* **output ignores the input** (contrastive losses, e.g. CUT's PatchNCE): a loss the recipe
  declares in ``chance_losses`` with the value it has when the output carries nothing of the input
  (log of the number of candidates each patch is matched against) stays within
  :data:`CHANCE_FRACTION` of that value for :data:`CHANCE_CHECKS` intervals in a row after
  :data:`CHANCE_WARMUP` checks. An untrained generator starts there; a learning one leaves it
  within a few hundred iterations, so a loss still there has stopped tying output to input
  (typically its weight is too low for the adversarial loss it competes with).

Each finding is reported once per run (the trainer prints it as ``translate: warning: ...``,
appends it to losses.jsonl and shows it in index.html). The monitor only reads losses, sheet
images and gradients, draws no random numbers and changes nothing, so training computes the same
with it on or off; its state travels in checkpoints so a resumed run reports what an
uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from translate.train.recipes import HealthSignals, Recipe

D_WIN_LOSS = 0.05
D_WIN_CHECKS = 5
OSC_WINDOW = 8
OSC_SIGNIFICANCE = 3.0
OSC_RELATIVE = 0.25
OSC_TURNS = 4
OSC_TREND_R2 = 0.5
COLLAPSE_IMAGES = 8
COLLAPSE_RATIO = 0.05
COLLAPSE_OF_REFERENCE = 0.5
COLLAPSE_DATA_ALIKE = 0.25  # targets this much less varied than the inputs teach near-constant output themselves
COLLAPSE_WARMUP_ITERS = 100
OUTPUTS_EARLY_EVERY = 5
OUTPUTS_EARLY_ITERS = 1000
COLLAPSE_POOL = 32  # sheet images are area-pooled to this size: cheap, and pixel noise averages out
GRAD_EXPLODE = 100.0
GRAD_HISTORY = 8
GRAD_HIGH_CHECKS = 2
CHANCE_FRACTION = 0.95
CHANCE_CHECKS = 5
CHANCE_WARMUP = 10


@dataclass(frozen=True)
class Finding:
    """One health problem: ``kind`` (discriminator_wins, oscillation, collapse, nonfinite_gradients,
    exploding_gradients), the ``subject`` it concerns (a loss, an output column, a net) and the
    one-sentence ``message``."""

    kind: str
    subject: str
    message: str


def gradient_norm(net: torch.nn.Module) -> float:
    """The L2 norm of all gradients of ``net`` left by the last backward pass (0.0 if none)."""
    grads = [p.grad.detach().float().norm() for p in net.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def diversity(images: torch.Tensor) -> float:
    """Mean over pixels of the standard deviation across images of (N, C, H, W): how much the
    images differ from one another (0: all identical)."""
    return float(images.float().std(dim=0, unbiased=False).mean())


class HealthMonitor:
    """Watches one run; call :meth:`step` after every iteration. ``scaled_gradients``: fp16 with
    a GradScaler, where non-finite gradients are routine (the scaler skips those steps)."""

    def __init__(self, signals: "HealthSignals", every: int, scaled_gradients: bool = False):
        self.signals, self.every, self.scaled_gradients = signals, every, scaled_gradients
        self.watched = tuple(dict.fromkeys(signals.d_losses + signals.g_losses))
        self.recorded = tuple(dict.fromkeys(self.watched + tuple(name for name, _, _ in signals.chance_losses)))
        self.chance_checks: dict[str, int] = {}  # loss -> intervals in a row near its chance value
        self.sums: dict[str, list[float]] = {}  # loss -> [n, sum, sum of squares] of the interval in progress
        self.intervals: dict[str, list[list[float]]] = {}  # loss -> [mean, variance, n] of past intervals
        self.d_low_checks = 0  # intervals in a row with every D loss below D_WIN_LOSS
        self.checks = 0
        self.images: dict[str, list[torch.Tensor]] = {}  # sheet column -> pooled (C, 32, 32) images
        self.grad_norms: dict[str, list[float]] = {}
        self.grad_high: dict[str, int] = {}  # net -> checks in a row above GRAD_EXPLODE x its median
        self.reported: set[tuple[str, str]] = set()

    # -- the trainer's hook ------------------------------------------------------------------

    def step(self, iteration: int, losses: dict[str, float], recipe: "Recipe", batch: Any) -> list[Finding]:
        """Record ``losses``; every ``every`` iterations also check the losses and gradients, and
        look at the outputs as :func:`outputs_due` says; returns the new findings."""
        for name in self.recorded:
            if name in losses and math.isfinite(losses[name]):
                acc = self.sums.setdefault(name, [0.0, 0.0, 0.0])
                acc[0] += 1
                acc[1] += losses[name]
                acc[2] += losses[name] ** 2
        outputs = self._outputs(recipe, batch, iteration) if outputs_due(iteration, self.every) else []
        if iteration % self.every:
            found = outputs
        else:
            self.checks += 1
            found = self._losses(iteration) + self._chance(iteration) + outputs + self._gradients(recipe)
        new = [f for f in found if (f.kind, f.subject) not in self.reported]
        self.reported.update((f.kind, f.subject) for f in new)
        return new

    # -- the checks ----------------------------------------------------------------------------

    def _losses(self, iteration: int) -> list[Finding]:
        for name, (n, total, squares) in self.sums.items():
            if n:
                mean = total / n
                history = self.intervals.setdefault(name, [])
                history.append([mean, max(squares / n - mean * mean, 0.0), n])
                del history[:-OSC_WINDOW]
        self.sums = {}
        found = []
        d_means = [self.intervals[k][-1][0] for k in self.signals.d_losses if self.intervals.get(k)]
        if self.signals.d_losses_bounded and d_means and max(d_means) < D_WIN_LOSS:
            self.d_low_checks += 1
        else:
            self.d_low_checks = 0
        if self.d_low_checks >= D_WIN_CHECKS:
            names = ", ".join(k for k in self.signals.d_losses if k in self.intervals)
            found.append(Finding("discriminator_wins", "D", (
                f"the discriminator is winning: {names} stayed below {D_WIN_LOSS} for the last "
                f"{self.d_low_checks * self.every} iterations (up to {iteration}), so it tells real from fake "
                f"almost perfectly and the generator learns little from it; try --diffaugment "
                f"color,translation,cutout, a weaker D (lower --ndf or --n-layers-D), --gan-mode lsgan, hinge or "
                f"wgangp, a lower --lr or more training data")))
        for name in self.watched:
            swing = oscillation(self.intervals.get(name, []))
            if swing is not None:
                found.append(Finding("oscillation", name, (
                    f"{name} has swung up and down between {swing[0]:.3g} and {swing[1]:.3g} over the last "
                    f"{OSC_WINDOW * self.every} iterations (up to {iteration}) without a trend, so G and D keep "
                    f"overpowering each other instead of improving together; try a lower --lr, --gan-mode lsgan "
                    f"or wgangp, or --pool-size 50 (D also sees older fakes)")))
        return found

    def _chance(self, iteration: int) -> list[Finding]:
        found = []
        for name, chance, hint in self.signals.chance_losses:
            history = self.intervals.get(name)
            if not history:
                continue
            near = history[-1][0] >= CHANCE_FRACTION * chance
            self.chance_checks[name] = self.chance_checks.get(name, 0) + 1 if near else 0
            if self.checks > CHANCE_WARMUP and self.chance_checks[name] >= CHANCE_CHECKS:
                found.append(Finding("output_ignores_input", name, (
                    f"{name} has stayed at {history[-1][0]:.3g}, within {1 - CHANCE_FRACTION:.0%} of its chance value "
                    f"{chance:.3g} (what it is when the output carries nothing of the input), for the last "
                    f"{self.chance_checks[name] * self.every} iterations (up to {iteration}), so the output ignores "
                    f"the input; {hint}")))
        return found

    def _outputs(self, recipe: "Recipe", batch: Any, iteration: int) -> list[Finding]:
        if not self.signals.outputs:
            return []
        visuals = dict(zip(recipe.sheet_columns, recipe.sample(batch)))
        found = []
        for source, out, ref in self.signals.outputs:
            if not {source, out, ref} <= set(visuals):
                continue  # no step has run on this batch yet
            for column in (source, out, ref):
                image = visuals[column].detach().float()
                pooled = F.adaptive_avg_pool2d(image, min(COLLAPSE_POOL, *image.shape[-2:])).cpu()
                kept = self.images.setdefault(column, [])
                kept.extend(pooled)
                del kept[:-COLLAPSE_IMAGES]
            if iteration < COLLAPSE_WARMUP_ITERS or len(self.images[out]) < COLLAPSE_IMAGES:
                continue
            d_in, d_out, d_ref = (diversity(torch.stack(self.images[c])) for c in (source, out, ref))
            if d_out < COLLAPSE_RATIO * d_in and d_out < COLLAPSE_OF_REFERENCE * d_ref:
                data = (f"the {ref} images vary only {d_ref / d_in:.0%} as much as the inputs, so the data itself "
                        f"teaches near-constant output (a poor data set: more varied targets help); "
                        if d_ref < COLLAPSE_DATA_ALIKE * d_in else "")
                found.append(Finding("collapse", out, (
                    f"the generator's {out} hardly depends on its input: over the last {COLLAPSE_IMAGES} inputs it "
                    f"varies {d_out / d_in:.1%} as much as the {source} images and {d_out / d_ref:.0%} as much as the "
                    f"{ref} images, so it paints about the same picture whatever it is given (collapse); {data}"
                    f"try --diffaugment color,translation,cutout, --gan-mode lsgan, a lower --lr or more data")))
        return found

    def _gradients(self, recipe: "Recipe") -> list[Finding]:
        found = []
        for name, net in recipe.nets.items():
            norm = gradient_norm(net)
            if not math.isfinite(norm):
                if not self.scaled_gradients:
                    found.append(Finding("nonfinite_gradients", name, (
                        f"the gradients of {name} are {norm} (not finite), so its next update destroys its "
                        f"weights; try a lower --lr, --gan-mode lsgan or wgangp, or --precision fp32")))
                continue
            history = self.grad_norms.setdefault(name, [])
            baseline = max(float(np.median(history)), 1e-12) if len(history) >= GRAD_HISTORY // 2 else math.inf
            if norm > GRAD_EXPLODE * baseline:
                # one spike (a saturated D that is suddenly wrong) is common; the baseline keeps
                # ignoring it, and only GRAD_HIGH_CHECKS checks in a row count as an explosion
                self.grad_high[name] = self.grad_high.get(name, 0) + 1
                if self.grad_high[name] >= GRAD_HIGH_CHECKS:
                    found.append(Finding("exploding_gradients", name, (
                        f"the gradient norm of {name} is {norm:.3g}, {norm / baseline:.0f}x its earlier median, for "
                        f"{self.grad_high[name]} checks in a row, so its updates are exploding; try a lower --lr, "
                        f"--gan-mode lsgan or wgangp (its gradient penalty keeps D's gradients near 1)")))
                continue
            self.grad_high[name] = 0
            history.append(norm)
            del history[:-GRAD_HISTORY]
        return found

    # -- checkpoints -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything the checks remember (floats, lists and tensors: weights_only-loadable)."""
        return {"sums": self.sums, "intervals": self.intervals, "d_low_checks": self.d_low_checks,
                "checks": self.checks, "images": {k: [t.clone() for t in v] for k, v in self.images.items()},
                "grad_norms": self.grad_norms, "grad_high": self.grad_high, "chance_checks": self.chance_checks,
                "reported": sorted(list(r) for r in self.reported)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.sums = {k: list(v) for k, v in state["sums"].items()}
        self.intervals = {k: [list(i) for i in v] for k, v in state["intervals"].items()}
        self.d_low_checks, self.checks = int(state["d_low_checks"]), int(state["checks"])
        self.images = {k: list(v) for k, v in state["images"].items()}
        self.grad_norms = {k: list(v) for k, v in state["grad_norms"].items()}
        # absent from checkpoints of runs started before the "two checks in a row" rule
        self.grad_high = {k: int(v) for k, v in state.get("grad_high", {}).items()}
        self.chance_checks = {k: int(v) for k, v in state.get("chance_checks", {}).items()}  # absent before CUT
        self.reported = {(str(k), str(s)) for k, s in state["reported"]}


def outputs_due(iteration: int, every: int) -> bool:
    """Whether the monitor looks at the generator's outputs (the collapse check) at ``iteration``
    when it checks every ``every`` iterations: every ``min(every, OUTPUTS_EARLY_EVERY)`` iterations
    up to :data:`OUTPUTS_EARLY_ITERS`, then every ``every``. A collapse usually sets in within the
    first few hundred iterations, and a look costs only pooling the last step's sheet images."""
    step = min(every, OUTPUTS_EARLY_EVERY) if iteration <= OUTPUTS_EARLY_ITERS else every
    return iteration % step == 0


def oscillation(intervals: list[list[float]]) -> tuple[float, float] | None:
    """``(low, high)`` of the interval means when they swing without a trend (see the module
    docstring for the four conditions), else None. ``intervals``: [mean, variance, n] each."""
    if len(intervals) < OSC_WINDOW:
        return None
    means = np.array([i[0] for i in intervals[-OSC_WINDOW:]])
    noise = math.sqrt(float(np.mean([i[1] / max(i[2], 1) for i in intervals[-OSC_WINDOW:]])))
    spread = float(means.std())
    steps = np.sign(np.diff(means))
    turns = int(np.sum(steps[1:] * steps[:-1] < 0))
    x = np.arange(len(means))
    r2 = float(np.corrcoef(x, means)[0, 1] ** 2) if spread > 0 else 0.0
    if (spread > OSC_SIGNIFICANCE * noise and spread > OSC_RELATIVE * float(np.mean(np.abs(means)))
            and turns >= OSC_TURNS and r2 < OSC_TREND_R2):
        return float(means.min()), float(means.max())
    return None
