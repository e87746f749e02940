"""One-to-one check of CUT / FastCUT training steps against the reference implementation.

Builds the reference ``CUTModel`` (taesungp/contrastive-unpaired-translation, its ``models/`` and
``util/`` folders; not part of this repository) and our cut recipe with the same settings (ResNet
generator, basic PatchGAN, instance norm, anti-aliased sampling, LSGAN, PatchNCE on layers
0,4,8,12,16, 256 patches, T 0.07, MLP head of 256), runs the reference's data-dependent
initialisation (which creates its head F), copies its G, D and F weights into ours, then runs
``--iterations`` steps of both on the same random batches with the same patch positions (the
reference draws them with numpy; ours are handed the ones it drew) and the same flip decisions
(FastCUT), in float64 on the CPU so that only real differences show. Prints the largest difference
of each loss and of every weight per step, and exits 1 when one differs by more than 1e-9 (relative).

    python tools/reference/check_reference_cut_step.py --ref /tmp/cutref                 # CUT
    python tools/reference/check_reference_cut_step.py --ref /tmp/cutref --mode fastcut

``--ref`` is the reference checkout, e.g. made from a mirror with
``git --git-dir=MIRROR archive HEAD models util | tar -x -C /tmp/cutref``.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
import torch


def cancelled_biases(net: torch.nn.Module) -> set[str]:
    """Keys of conv biases that an affine-free InstanceNorm follows directly. The norm subtracts each
    channel's mean, so such a bias changes no output and its exact gradient is 0; in floating point
    it is rounding noise (~1e-17), and Adam's first steps move a weight by about lr * g / (|g| + eps)
    whatever g's size, so both implementations move these biases by arbitrary amounts of up to lr
    per step. They are reported apart: no loss or output depends on them."""
    names, previous = set(), None
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.InstanceNorm2d) and previous is not None:
            prev_name, prev = previous
            if isinstance(prev, torch.nn.Conv2d) and prev.bias is not None:
                names.add(f"{prev_name}.bias")
        if not list(module.children()):
            previous = (name, module)
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", required=True, help="the reference implementation's folder (models/, util/)")
    p.add_argument("--mode", choices=("cut", "fastcut"), default="cut")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--ngf", type=int, default=8, help="generator and discriminator width (reference default 64)")
    p.add_argument("--blocks", type=int, default=9, help="residual blocks (resnet_9blocks: the reference default)")
    p.add_argument("--size", type=int, default=64, help="image side of the random batches (reference crops 256)")
    p.add_argument("--batch-size", type=int, default=1)
    args = p.parse_args(argv)
    if not (Path(args.ref) / "models" / "cut_model.py").is_file():
        print(f"check_reference_cut_step: {args.ref}: no models/cut_model.py; give the reference checkout with --ref",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(args.ref).resolve()))
    from models.cut_model import CUTModel

    from translate.train.recipes.cut import CUT, CUTConfig

    torch.set_default_dtype(torch.float64)
    fast = args.mode == "fastcut"
    netG = f"resnet_{args.blocks}blocks"
    opt = types.SimpleNamespace(
        isTrain=True, gpu_ids=[], checkpoints_dir="/nonexistent", name="check", preprocess="resize_and_crop",
        input_nc=3, output_nc=3, ngf=args.ngf, ndf=args.ngf, netG=netG, netD="basic", n_layers_D=3,
        normG="instance", normD="instance", no_dropout=True, init_type="xavier", init_gain=0.02, no_antialias=False,
        no_antialias_up=False, netF="mlp_sample", netF_nc=256, gan_mode="lsgan", lr=2e-4, beta1=0.5, beta2=0.999,
        lambda_GAN=1.0, lambda_NCE=10.0 if fast else 1.0, nce_idt=not fast, nce_layers="0,4,8,12,16", nce_T=0.07,
        num_patches=256, flip_equivariance=fast, nce_includes_all_negatives_from_minibatch=False,
        batch_size=args.batch_size, direction="AtoB", pool_size=0, CUT_mode=args.mode)
    if netG not in ("resnet_9blocks", "resnet_6blocks", "resnet_4blocks"):
        print(f"check_reference_cut_step: the reference builds resnet_9/6/4blocks only, not {netG}", file=sys.stderr)
        return 2

    def batch(it: int) -> dict:
        g = torch.Generator().manual_seed(100 + it)
        shape = (args.batch_size, 3, args.size, args.size)
        return {"A": torch.rand(*shape, generator=g) * 2 - 1, "B": torch.rand(*shape, generator=g) * 2 - 1,
                "A_paths": ["-"], "B_paths": ["-"]}

    torch.manual_seed(0)
    np.random.seed(0)
    ref = CUTModel(opt)
    ref.data_dependent_initialize(batch(-1))  # creates F (its MLPs are sized by the first forward)
    ours = CUT(CUTConfig(data="unused", out="unused", mode=args.mode, netG=netG, ngf=args.ngf, ndf=args.ngf,
                         batch_size=args.batch_size, crop_size=args.size, load_size=args.size),
               torch.device("cpu"), "check")
    for name in ("G", "D", "F"):
        ours.nets[name].load_state_dict(getattr(ref, "net" + name).state_dict(), strict=True)

    # the reference draws patch positions with numpy inside netF: record them, hand them to ours
    drawn: list[list[torch.Tensor]] = []
    ref_forward, our_forward = ref.netF.forward, ours.nets["F"].forward

    def ref_recording(feats, num_patches=64, patch_ids=None):
        out, ids = ref_forward(feats, num_patches, patch_ids)
        if patch_ids is None:
            drawn.append([torch.as_tensor(i) for i in ids])
        return out, ids

    def ours_replaying(feats, num_patches, patch_ids=None):
        return our_forward(feats, num_patches, drawn.pop(0) if patch_ids is None else patch_ids)

    ref.netF.forward = ref_recording
    ours.nets["F"].forward = ours_replaying

    failed = False
    for it in range(args.iterations):
        data = batch(it)
        ref.set_input(data)
        ref.optimize_parameters()
        flipped = bool(getattr(ref, "flipped_for_equivariance", False))
        # our flip is torch.rand(()) < 0.5 at the start of the step: pick a seed that gives the same answer
        seed = next(s for s in range(1000) if (torch.manual_seed(s), bool(torch.rand(()).item() < 0.5))[1] == flipped)
        torch.manual_seed(seed)
        losses = ours.train_step({"A": data["A"], "B": data["B"]})
        assert not drawn, "our step used fewer patch draws than the reference's"
        want = {"D_real": ref.loss_D_real, "D_fake": ref.loss_D_fake, "D": ref.loss_D, "G_GAN": ref.loss_G_GAN,
                "NCE": ref.loss_NCE, "G": ref.loss_G}
        if opt.nce_idt:
            want["NCE_Y"] = ref.loss_NCE_Y
        print(f"step {it + 1} ({args.mode}{', flipped' if flipped else ''}):")
        for k, v in want.items():
            v = float(v.detach()) if torch.is_tensor(v) else float(v)
            rel = abs(losses[k] - v) / max(abs(v), 1e-12)
            failed |= rel > 1e-9
            print(f"  loss {k:7s} ours {losses[k]:.12g}  reference {v:.12g}  rel diff {rel:.2g}")
        for name in ("G", "D", "F"):
            theirs = getattr(ref, "net" + name).state_dict()
            diffs = {k: ((v - theirs[k]).abs().max() / theirs[k].abs().max().clamp_min(1e-12)).item()
                     for k, v in ours.nets[name].state_dict().items()}
            cancelled = cancelled_biases(getattr(ref, "net" + name))
            worst = max(v for k, v in diffs.items() if k not in cancelled)
            failed |= worst > 1e-9
            print(f"  weights {name}: {len(diffs) - len(cancelled)} tensors, largest relative difference {worst:.2g}"
                  + (f"; {len(cancelled)} biases cancelled by the instance norm after them differ by up to "
                     f"{max(diffs[k] for k in cancelled):.2g} of their size (see cancelled_biases)" if cancelled else ""))
    print("MISMATCH" if failed else "MATCH: same losses and same updated weights")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
