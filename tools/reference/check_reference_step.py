"""One-to-one check of a pix2pix training step against the reference implementation.

Builds the reference ``Pix2PixModel`` (junyanz/pytorch-CycleGAN-and-pix2pix, its ``models/``
folder; not part of this repository) and our pix2pix recipe with the same defaults (U-Net 256,
batch norm, dropout, basic PatchGAN, vanilla GAN loss, L1 x 100, Adam 2e-4 / 0.5), copies the
reference's initial weights into ours, then runs ``--iterations`` steps on the same random
batches with the same dropout draws (the torch RNG seeded alike before each step), in float64 on
the CPU so that only real differences show. Prints the largest difference of each loss and of
every weight and buffer per step, and exits 1 when a loss or a parameter differs. The batch-norm
running statistics of D are expected to differ slightly: the reference passes the fake pair
through D first, we pass the real one first; D always runs in train mode, so they are never used.

    python tools/reference/check_reference_step.py --ref .gpu/ref            # 5 steps, ngf = ndf = 8
    python tools/reference/check_reference_step.py --ref .gpu/ref --ngf 64 --iterations 2

``--ref`` is the reference checkout (``models/``, ``util/``; its ``torch.compile`` wrapping is
not used: the model's ``setup()`` is not called).
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", required=True, help="the reference implementation's folder (models/, util/)")
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--ngf", type=int, default=8, help="generator and discriminator width (reference default 64)")
    args = p.parse_args(argv)
    if not (Path(args.ref) / "models" / "pix2pix_model.py").is_file():
        print(f"check_reference_step: {args.ref}: no models/pix2pix_model.py; give the reference checkout with --ref",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(args.ref).resolve()))
    from models.pix2pix_model import Pix2PixModel

    from translate.train.recipes.pix2pix import Pix2Pix, Pix2PixConfig

    torch.set_default_dtype(torch.float64)
    opt = types.SimpleNamespace(
        isTrain=True, gpu_ids=[], checkpoints_dir="/nonexistent", name="check", preprocess="resize_and_crop",
        input_nc=3, output_nc=3, ngf=args.ngf, ndf=args.ngf, netG="unet_256", netD="basic", n_layers_D=3,
        norm="batch", no_dropout=False, init_type="normal", init_gain=0.02, gan_mode="vanilla", lr=2e-4, beta1=0.5,
        lambda_L1=100.0, direction="AtoB")
    torch.manual_seed(0)
    ref = Pix2PixModel(opt)
    ours = Pix2Pix(Pix2PixConfig(data="unused", out="unused", ngf=args.ngf, ndf=args.ngf), torch.device("cpu"), "check")
    for name in ("G", "D"):
        ours.nets[name].load_state_dict(getattr(ref, "net" + name).state_dict())
    failed = False
    for it in range(args.iterations):
        g = torch.Generator().manual_seed(100 + it)
        batch = {"A": torch.rand(1, 3, 256, 256, generator=g) * 2 - 1, "B": torch.rand(1, 3, 256, 256, generator=g) * 2 - 1,
                 "A_paths": ["-"], "B_paths": ["-"]}
        ref.set_input(batch)
        torch.manual_seed(1000 + it)
        ref.optimize_parameters()
        torch.manual_seed(1000 + it)
        losses = ours.train_step(batch)
        loss_diff = max(abs(losses[k] - float(getattr(ref, "loss_" + k).detach())) for k in losses)
        line = [f"step {it + 1}: losses {loss_diff:.1e}"]
        for name in ("G", "D"):
            theirs, mine = getattr(ref, "net" + name).state_dict(), ours.nets[name].state_dict()
            params = {n for n, _ in ours.nets[name].named_parameters()}
            diff = {k: (theirs[k] - mine[k]).abs().max().item() for k in theirs if theirs[k].is_floating_point()}
            p_diff = max(v for k, v in diff.items() if k in params)
            b_diff = max((v for k, v in diff.items() if k not in params), default=0.0)
            line.append(f"{name} parameters {p_diff:.1e} buffers {b_diff:.1e}")
            failed |= p_diff > 0
        failed |= loss_diff > 0
        print(", ".join(line))
    print("identical losses and parameters" if not failed else "DIFFERENT")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
