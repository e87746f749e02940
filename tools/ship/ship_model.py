"""Turn a `translate train` checkpoint into a shipped model: weights/<name>.safetensors.

The generator's state dict is stored as safetensors with its model card (architecture,
normalisation, size multiple, provenance) in the header, so `translate run <name>` and
`translate run weights/<name>.safetensors` rebuild the network from the file alone.

    python tools/ship/ship_model.py RUN_DIR/checkpoints/latest.pt NAME --description "..." [--direction AtoB]
        [--palette facades] [--fp16] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from translate.models.checkpoint import save_shipped
from translate.models.loading import load_model

# The repository's weights/ folder (not the installed package's copy of it: a wheel install has one).
REPO_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("name", help="zoo name of the shipped model")
    p.add_argument("--direction", choices=("AtoB", "BtoA"))
    p.add_argument("--description", default="")
    p.add_argument("--source", default="trained by translate (see tools/)")
    p.add_argument("--licence", default="BSD-3-Clause (weights trained by the translate authors)")
    p.add_argument("--palette", help="the outputs are label maps in this palette (e.g. facades): stored in the "
                                     "card, so `translate eval translation` scores them as label maps")
    p.add_argument("--fp16", action="store_true",
                   help="store float weights as float16 (half the size; loaded back into float32)")
    p.add_argument("--out-dir", type=Path, default=REPO_WEIGHTS,
                   help="write NAME.safetensors here instead of the repository's weights/ (e.g. on a lent GPU "
                        "machine, to bring it back; the card still names weights/NAME.safetensors, where it ships)")
    args = p.parse_args()
    net, card = load_model(args.checkpoint, direction=args.direction)
    out = args.out_dir / f"{args.name}.safetensors"
    card = dataclasses.replace(card, name=args.name, file=f"weights/{out.name}", url=None, sha256=None,
                               description=args.description, source=args.source, licence=args.licence,
                               extra={**card.extra, **({"palette": args.palette} if args.palette else {})})
    state = net.state_dict()
    if args.fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_shipped(out, state, card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
