"""Domain-classifier score of unpaired translators: an offline diagnostic where FID / KID cannot run.

FID and KID need the Inception weights, which this machine does not have (``--fid`` below, and
``translate eval translation --fid``, compute them where the weights are). This tool trains a
small CNN from scratch to tell the two *training* domains apart (trainA = 0, trainB = 1), then
reports:

- its accuracy on the held-out sixth of the training split it stopped on (every 6th file of
  trainA and trainB, sorted by name; never trained on);
- its accuracy on the real test split (testA vs testB): the check that it learnt the domains,
  not the training files. If this is near 0.5 the rest means nothing;
- the fraction of the untranslated testA images it calls B: the "does nothing" baseline;
- for each model (``--model LABEL=SPEC``, run through ``translate.load`` like any user's code) or
  folder of outputs made elsewhere (``--outputs LABEL=DIR``): the fraction of its translations of
  testA that it calls B, and their mean P(B). With ``--direction BtoA`` the roles of A and B swap.

    python tools/ship/domain_classifier_score.py --data ../shared/data/unpaired/horse2zebra --size 144 \\
        --model CycleGAN=runs/h2z-cyclegan --model CUT=runs/h2z-cut --model FastCUT=runs/h2z-fastcut \\
        --json out/h2z_domain_score.json

``--size S`` resizes the test inputs to S x S before the models see them (the scale they were
trained at); every image the classifier sees is then resized to ``--classifier-size`` (64).
Deterministic for a given ``--seed`` and ``--threads`` on one machine: the weights' initial values,
the batch order and the augmentation (random flips and shifts of up to 1/16 of the side) all come
from the seed. Seeds differ more than one would like (on horse2zebra the untranslated test horses
called zebra moved from 0.025 to 0.117 between two classifiers): give ``--seed`` several times to
train one classifier per seed on the same translations and read the per-seed table and its mean.

Limits: it is a diagnostic, not FID. A small classifier decides on whatever separates the domains
most cheaply (stripes, savanna colours, background), so a generator can be called "B" by painting
stripes anywhere, including the background, or by shifting colours; and a translation that a person
would accept can fail it if it keeps cues the classifier relies on. It says nothing about image
quality or diversity and, unlike FID, it cannot be compared with published numbers. Read it next to
the side-by-side figure (tools/figures/side_by_side.py).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from kornia.augmentation import RandomCrop, RandomHorizontalFlip
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "figures"))
# model specs (LABEL=SPEC) and input lists are read as the side-by-side figure reads them (one home)
from side_by_side import as_rgb, parse_model, read_inputs

import translate
from translate.errors import TranslateError
from translate.fileio import atomic_write_text
from translate.imageio import list_images

HOLDOUT_EVERY = 6  # every 6th training file (sorted) is held out for choosing the epoch


class DomainCNN(nn.Module):
    """Four conv (3x3) - batch norm - ReLU - max-pool blocks, global average pool, one logit.

    (N, 3, S, S) float in [0, 1] -> (N,) logits of "domain B" (S a multiple of 16)."""

    def __init__(self, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i in range(4):
            out = width * 2 ** i
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x * 2 - 1).mean(dim=(2, 3))).squeeze(1)


@dataclass
class ClassifierReport:
    """What one scoring run measured (fractions in [0, 1]); ``rows`` maps a label to its fraction
    called target and mean P(target) on the translated source test images."""

    direction: str
    seed: int
    classifier_size: int
    train_images: tuple[int, int]
    holdout_images: tuple[int, int]
    epoch_kept: int
    holdout_accuracy: float
    test_accuracy_source: float
    test_accuracy_target: float
    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        """Balanced accuracy on the real test split (mean of the two domains')."""
        return (self.test_accuracy_source + self.test_accuracy_target) / 2


def to_tensor(images: list[np.ndarray], size: int) -> torch.Tensor:
    """uint8 RGB (H, W, 3) images -> (N, 3, size, size) float32 in [0, 1] (area resampling)."""
    batch = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255)


def split_holdout(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): every :data:`HOLDOUT_EVERY`-th file in sorted order is held out."""
    files = sorted(files)
    return ([f for i, f in enumerate(files) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1],
            [f for i, f in enumerate(files) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1])


def make_augmentation(size: int) -> nn.Module:
    """Random left-right flips and shifts of up to 1/16 of the side (reflect padding, then a random
    crop back to ``size``), drawn per image from torch's global generator: (N, 3, size, size) in and out."""
    pad = max(1, size // 16)
    return nn.Sequential(RandomHorizontalFlip(), RandomCrop((size, size), padding=pad, padding_mode="reflect"))


def predict(net: DomainCNN, x: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """P(domain B) of each image of (N, 3, S, S) ``x``, shape (N,)."""
    net.eval()
    with torch.no_grad():
        return torch.cat([torch.sigmoid(net(x[i:i + batch])) for i in range(0, len(x), batch)])


def accuracy(p_b: torch.Tensor, label: int) -> float:
    """Fraction of images whose P(B) puts them in domain ``label`` (0 = A, 1 = B; 0.5 counts as A)."""
    return float(((p_b > 0.5) == bool(label)).float().mean())


def train_classifier(train_a: torch.Tensor, train_b: torch.Tensor, holdout_a: torch.Tensor, holdout_b: torch.Tensor,
                     *, epochs: int, seed: int, batch: int = 32, lr: float = 1e-3) -> tuple[DomainCNN, int, float]:
    """Train :class:`DomainCNN` on A (label 0) vs B (label 1) for ``epochs`` epochs with Adam; returns
    the network of the epoch with the best held-out balanced accuracy (ties: the lower held-out
    loss), that epoch (1-based) and its accuracy. All tensors are (N, 3, S, S) in [0, 1]."""
    torch.manual_seed(seed)  # the initial weights and the augmentation
    generator = torch.Generator().manual_seed(seed)  # the batch order
    net = DomainCNN()
    augment = make_augmentation(train_a.shape[-1])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x = torch.cat([train_a, train_b])
    y = torch.cat([torch.zeros(len(train_a)), torch.ones(len(train_b))])
    hx = torch.cat([holdout_a, holdout_b])
    hy = torch.cat([torch.zeros(len(holdout_a)), torch.ones(len(holdout_b))])
    loss_fn = nn.BCEWithLogitsLoss()
    best: tuple[float, float] | None = None
    best_state, best_epoch = copy.deepcopy(net.state_dict()), 0
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            if len(idx) < 2:  # batch norm needs two images
                continue
            opt.zero_grad()
            loss_fn(net(augment(x[idx])), y[idx]).backward()
            opt.step()
        p = predict(net, hx)
        held_out = ((accuracy(p[:len(holdout_a)], 0) + accuracy(p[len(holdout_a):], 1)) / 2,
                    -float(nn.functional.binary_cross_entropy(p.clamp(1e-6, 1 - 1e-6), hy)))
        if best is None or held_out > best:
            best, best_state, best_epoch = held_out, copy.deepcopy(net.state_dict()), epoch
    net.load_state_dict(best_state)
    net.eval()
    return net, best_epoch, best[0] if best else 0.0


def score(data: str | Path, models: list[tuple[str, str]] = (), outputs: list[tuple[str, str]] = (), *,
          direction: str = "AtoB", size: int = 0, classifier_size: int = 64, epochs: int = 20,
          seeds: tuple[int, ...] = (0,), device: str = "cpu", fid: bool = False,
          inception_weights: str | None = None) -> list[ClassifierReport]:
    """The domain-classifier score of ``models`` ((label, translate.load spec)) and ``outputs``
    ((label, folder of translated source test images)) on the unpaired dataset ``data``
    (trainA/, trainB/, testA/, testB/); see the module docstring. One report per seed in ``seeds``:
    each trains its own classifier and scores the same translations (made once), so the spread
    between seeds shows how much of a difference between rows is the classifier's own noise.
    ``size`` > 0 resizes the source test images to size x size before the models; ``fid`` adds
    FID / KID of each row against the real target test images (needs the Inception weights)."""
    if not seeds:
        raise TranslateError("give at least one --seed")
    if direction not in ("AtoB", "BtoA"):
        raise TranslateError(f"--direction must be AtoB or BtoA, got {direction!r}")
    if classifier_size < 16 or classifier_size % 16:
        raise TranslateError(f"--classifier-size {classifier_size}: give a multiple of 16 (the CNN pools 4 times)")
    if fid:  # before the classifier's minutes: the weights file given, or the cached download
        from translate.eval.fid import inception_weights as find_weights

        inception_weights = find_weights(inception_weights, progress=False)
    src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
    data = Path(data)
    for sub in ("trainA", "trainB", "testA", "testB"):
        if not (data / sub).is_dir():
            raise TranslateError(f"{data}: no {sub}/ folder; give an unpaired dataset with trainA, trainB, testA, testB")

    def load(paths: list[Path], resize: int = 0) -> list[np.ndarray]:
        return [rgb for _, rgb in read_inputs([str(p) for p in paths], 0, resize)]

    splits = {}
    for domain in ("A", "B"):
        fit, held = split_holdout(list_images(data / f"train{domain}"))
        if len(fit) < 2 or not held:
            raise TranslateError(f"{data / f'train{domain}'}: needs at least {HOLDOUT_EVERY} images "
                                 f"(every {HOLDOUT_EVERY}th is held out)")
        splits[domain] = (to_tensor(load(fit), classifier_size), to_tensor(load(held), classifier_size))
    source_fit, source_held = splits[src]
    target_fit, target_held = splits[dst]
    sources = load(list_images(data / f"test{src}"), size)
    targets = load(list_images(data / f"test{dst}"))
    translated: dict[str, list[np.ndarray]] = {f"input (test{src}, untranslated)": sources}
    for label, spec in models:
        # AtoB keeps each model's own (first) direction, as `translate run` does; BtoA asks for it, so
        # a CycleGAN run gives its G_B and a one-way model of the wrong direction is refused
        model = translate.load(spec, device=device, direction=None if direction == "AtoB" else direction)
        translated[label] = [as_rgb(model(rgb)) for rgb in sources]
    for label, folder in outputs:
        translated[label] = load(list_images(folder))
    if len(translated) != 1 + len(models) + len(outputs):
        raise TranslateError("each --model / --outputs needs its own label (LABEL=...)")
    inputs = {label: to_tensor(images, classifier_size) for label, images in translated.items()}
    source_x = inputs[f"input (test{src}, untranslated)"]  # the real test split, made once for every seed
    target_x = to_tensor(targets, classifier_size)
    distances = {}
    if fid:
        from translate.eval.fid import fid_kid

        distances = fid_kid(targets, translated, weights=inception_weights, device=device)

    reports = []
    for seed in seeds:
        # label 1 is always the target domain, so "called B" below reads "called target" for BtoA
        net, epoch, holdout_acc = train_classifier(source_fit, target_fit, source_held, target_held,
                                                   epochs=epochs, seed=seed)
        p_source = predict(net, source_x)
        p_target = predict(net, target_x)
        report = ClassifierReport(direction, seed, classifier_size, (len(source_fit), len(target_fit)),
                                  (len(source_held), len(target_held)), epoch, holdout_acc,
                                  accuracy(p_source, 0), accuracy(p_target, 1))
        for label, x in inputs.items():
            p = predict(net, x)
            report.rows[label] = {"called_target": accuracy(p, 1), "mean_p_target": float(p.mean()), "images": len(x)}
            if label in distances:
                report.rows[label].update(fid=distances[label]["fid"], kid=distances[label]["kid"])
        reports.append(report)
    return reports


def mean_called_target(reports: list[ClassifierReport]) -> dict[str, float]:
    """Each row's fraction called target, averaged over the reports (seeds) of one :func:`score`."""
    return {label: sum(r.rows[label]["called_target"] for r in reports) / len(reports) for label in reports[0].rows}


def format_report(report: ClassifierReport) -> str:
    """The report as a few lines of text and a table."""
    src, dst = ("A", "B") if report.direction == "AtoB" else ("B", "A")
    lines = [
        (f"classifier: train{src} vs train{dst}, {report.train_images[0]} + {report.train_images[1]} images at "
         f"{report.classifier_size} px, seed {report.seed}; epoch {report.epoch_kept} kept"),
        (f"held-out training images ({report.holdout_images[0]} + {report.holdout_images[1]}): balanced accuracy "
         f"{report.holdout_accuracy:.3f}"),
        (f"real test split: test{src} called {src} {report.test_accuracy_source:.3f}, test{dst} called {dst} "
         f"{report.test_accuracy_target:.3f}, balanced accuracy {report.test_accuracy:.3f}"),
        "",
        (f"{'translations of test' + src:<40} {'images':>6} {'called ' + dst:>9} {'mean P(' + dst + ')':>10}"
         + (f" {'FID':>8} {'KID':>8}" if any("fid" in r for r in report.rows.values()) else "")),
    ]
    for label, r in report.rows.items():
        line = f"{label:<40} {r['images']:>6} {r['called_target']:>9.3f} {r['mean_p_target']:>10.3f}"
        if "fid" in r:
            line += f" {r['fid']:>8.2f} {r['kid']:>8.4f}"
        lines.append(line)
    return "\n".join(lines)


def format_summary(reports: list[ClassifierReport]) -> str:
    """One line per row: its fraction called target under each seed's classifier, and their mean."""
    dst = "B" if reports[0].direction == "AtoB" else "A"
    seeds = " ".join(f"{'seed ' + str(r.seed):>8}" for r in reports)
    lines = [f"{'called ' + dst + ', per classifier seed':<40} {seeds} {'mean':>8}",
             f"{'(real test split, balanced accuracy)':<40} "
             + " ".join(f"{r.test_accuracy:>8.3f}" for r in reports)
             + f" {sum(r.test_accuracy for r in reports) / len(reports):>8.3f}"]
    for label, mean in mean_called_target(reports).items():
        lines.append(f"{label:<40} " + " ".join(f"{r.rows[label]['called_target']:>8.3f}" for r in reports)
                     + f" {mean:>8.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="unpaired dataset: trainA/, trainB/, testA/, testB/")
    p.add_argument("--model", action="append", default=[], metavar="[LABEL=]SPEC",
                   help="a translator to score (repeatable): zoo name, run folder, checkpoint or .onnx")
    p.add_argument("--outputs", action="append", default=[], metavar="LABEL=DIR",
                   help="a folder of translations of the source test images made elsewhere (repeatable)")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="source -> target (default AtoB)")
    p.add_argument("--size", type=int, default=0, help="resize the source test images to SIZE x SIZE before the "
                                                       "models (their training scale; 0: as they are)")
    p.add_argument("--classifier-size", type=int, default=64, help="side the classifier sees (multiple of 16; default 64)")
    p.add_argument("--epochs", type=int, default=20, help="classifier training epochs (default 20)")
    p.add_argument("--seed", type=int, action="append", metavar="SEED",
                   help="classifier seed; repeat it to train one classifier per seed and add their mean (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu", help="where the translators run (the classifier: CPU)")
    p.add_argument("--fid", action="store_true", help="also FID / KID against the real target test images "
                                                      "(needs translate-gan[fid] and the Inception weights)")
    p.add_argument("--inception-weights", metavar="FILE", help="Inception weights for --fid instead of the cached download")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON (atomically)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.epochs < 1:
            raise TranslateError("--epochs must be at least 1")
        reports = score(args.data, [parse_model(m) for m in args.model], [parse_model(o) for o in args.outputs],
                       direction=args.direction, size=args.size, classifier_size=args.classifier_size,
                       epochs=args.epochs, seeds=tuple(args.seed or [0]), device=args.device, fid=args.fid,
                       inception_weights=args.inception_weights)
        if args.json:
            atomic_write_text(args.json, json.dumps(
                {"reports": [{**asdict(r), "test_accuracy": r.test_accuracy} for r in reports],
                 "mean_called_target": mean_called_target(reports)}, indent=2) + "\n")
    except TranslateError as e:
        print(f"domain_classifier_score.py: error: {e}", file=sys.stderr)
        return 2
    print("\n\n".join(format_report(r) for r in reports))
    if len(reports) > 1:
        print("\n" + format_summary(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
