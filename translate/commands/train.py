"""`translate train RECIPE --data DIR --out RUN_DIR [options]`; `translate train [RECIPE] --resume RUN_DIR`.

The options of each recipe are generated from its config dataclass
(:func:`translate.train.config.add_config_arguments`). Recipe modules import torch, so a recipe's
options are parsed in the handler (``translate train pix2pix --help`` loads the recipe); the
top-level parser only needs the recipe names, found without importing anything heavy.
"""

from __future__ import annotations

import argparse
import sys

from translate.errors import TranslateError

EPILOG = """examples:
  translate train pix2pix --data datasets/facades --out runs/facades --direction BtoA
  translate train cyclegan --data datasets/horse2zebra --out runs/h2z --max-iters 1000
  translate train cyclegan --resume runs/h2z --max-iters 2000
  translate train --resume runs/h2z          (the recipe is read from the run)

run `translate train RECIPE --help` for the options of a recipe."""


def register(sub: argparse._SubParsersAction) -> None:
    from translate.train.recipes import recipe_names

    names = recipe_names()
    p = sub.add_parser(
        "train", help="train a model (pix2pix, cyclegan, ...)",
        description="Train a recipe; checkpoints, image sheets and losses go to the run folder.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--resume", nargs=argparse.REMAINDER, metavar="RUN_DIR [OPTION]",
                   help="RUN_DIR [OPTION ...]: continue the run in RUN_DIR (its recipe is read from the "
                        "checkpoint); the options after RUN_DIR may change what a resumed run allows, e.g. --max-iters")
    p.add_argument("--config", dest="config_file", nargs=argparse.REMAINDER, metavar="FILE.yaml [OPTION]",
                   help="FILE.yaml [OPTION ...]: train with the options of a YAML file (e.g. a run's config.yaml) "
                        "whose 'recipe:' key names the recipe; the options after it override the file")
    # no argparse choices: an unknown name gets get_recipe's one-line error instead of usage + error
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help=f"one of: {', '.join(names)}")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the recipe (see RECIPE --help)")
    p.set_defaults(func=handle)


def recipe_parser(recipe: str) -> argparse.ArgumentParser:
    """The argument parser of one recipe: its config fields plus ``--resume RUN_DIR``."""
    from translate.train.config import add_config_arguments
    from translate.train.recipes import get_recipe

    recipe_cls = get_recipe(recipe)
    doc = sys.modules[recipe_cls.__module__].__doc__ or ""
    parser = argparse.ArgumentParser(
        prog=f"translate train {recipe}", description=doc.strip().split("\n\n")[0],
        epilog="With --resume RUN_DIR the run's saved config is used; options marked 'may be changed with "
               "--resume' override it, others must keep their values.",
    )
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR at its next iteration "
                        "(loads RUN_DIR/checkpoints/latest.pt and RUN_DIR/config.json)")
    parser.add_argument("--config", dest="config_file", metavar="FILE.yaml",
                        help="read options from a YAML file (keys as printed by --print-config); command-line "
                             "options override it")
    parser.add_argument("--print-config", action="store_true",
                        help="print the full config (defaults, file and options merged) as YAML and exit")
    add_config_arguments(parser, recipe_cls.Config)
    return parser


def handle(args: argparse.Namespace) -> int:
    from translate.train.config import given_options
    from translate.train.recipes import get_recipe
    from translate.train.trainer import train

    if args.resume is not None:  # `translate train --resume RUN_DIR [options]`
        if not args.resume:
            raise TranslateError("--resume needs the run folder: translate train --resume RUN_DIR")
        from translate.train.checkpoints import run_recipe

        args.recipe, args.options = run_recipe(args.resume[0]), ["--resume", *args.resume]
    if args.config_file is not None:  # `translate train --config FILE.yaml [options]`: recipe from the file
        if not args.config_file:
            raise TranslateError("--config needs a file: translate train --config FILE.yaml [OPTION ...]")
        args.recipe, args.options = _recipe_of_config(args.config_file[0]), ["--config", *args.config_file]
    if args.recipe is None:
        raise TranslateError("translate train: name a recipe (e.g. translate train pix2pix --data DIR --out RUN_DIR) "
                             "or pass --resume RUN_DIR")
    parser = recipe_parser(args.recipe)
    try:
        ns = parser.parse_args(args.options)
    except SystemExit as e:  # argparse already printed usage + message (or --help)
        return int(e.code or 0)
    options = given_options(ns, get_recipe(args.recipe).Config)
    if ns.config_file:
        from translate.train.config import read_config_file

        from_file, file_recipe = read_config_file(ns.config_file, get_recipe(args.recipe).Config)
        if file_recipe and file_recipe != args.recipe:
            raise TranslateError(f"--config {ns.config_file} is a '{file_recipe}' config, not '{args.recipe}'")
        options = {**from_file, **options}  # the command line wins
        _refuse_config_in_run_folder(ns.config_file, options.get("out") or ns.resume)
    if ns.print_config:
        print(_printable_config(args.recipe, options, ns.resume), end="")
        return 0
    if ns.resume is None and "data" not in options:
        raise TranslateError(f"translate train {args.recipe}: --data DIR is required (or --resume RUN_DIR)")
    if ns.resume is None and "out" not in options:
        raise TranslateError(f"translate train {args.recipe}: --out RUN_DIR is required (or --resume RUN_DIR)")
    result = train(args.recipe, options, resume=ns.resume)
    losses = " ".join(f"{k}={v:.4g}" for k, v in result.losses.items())
    epochs = f"{result.epoch} full epoch{'' if result.epoch == 1 else 's'}"  # the checkpoint's count
    print(f"trained {args.recipe} to iteration {result.iteration} ({epochs}); "
          f"checkpoint {result.checkpoint}" + (f"; losses {losses}" if losses else ""))
    return 0


def _refuse_config_in_run_folder(config_file: str, run_dir: str | None) -> None:
    """A run rewrites its folder's config.yaml / config.json; refuse a --config that is one of them
    (symlinks and hard links included), since the command would replace a file it reads."""
    from pathlib import Path

    from translate.fileio import same_file

    if not run_dir:
        return
    for name in ("config.yaml", "config.json"):
        if same_file(config_file, Path(run_dir) / name):
            raise TranslateError(f"--config {config_file} is the {name} that the run in {run_dir} rewrites; copy it "
                                 f"elsewhere first, or continue that run with --resume {run_dir}")


def _recipe_of_config(path: str) -> str:
    """The ``recipe:`` entry of a config file (needed before its recipe's options can be parsed)."""
    from pathlib import Path

    import yaml

    if not Path(path).is_file():
        raise TranslateError(f"--config {path}: file not found")
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TranslateError(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    recipe = data.get("recipe") if isinstance(data, dict) else None
    if not recipe:
        raise TranslateError(f"--config {path}: no 'recipe:' key; name the recipe: translate train RECIPE --config {path}")
    return str(recipe)


def _printable_config(recipe: str, options: dict, resume: str | None) -> str:
    """The config a `translate train` call would use, as YAML (nothing is trained or validated)."""
    import dataclasses
    from pathlib import Path

    from translate.train.checkpoints import run_config
    from translate.train.config import config_to_yaml
    from translate.train.recipes import get_recipe

    cls = get_recipe(recipe).Config
    if resume:
        if not (Path(resume) / "config.json").is_file():
            raise TranslateError(f"--resume {resume}: no config.json; is this a run folder of translate train?")
        config = dataclasses.replace(run_config(resume, cls), **options)
    else:
        try:
            config = cls(**options)
        except TypeError as e:
            raise TranslateError(f"--print-config: {e}") from None
    return config_to_yaml(config, recipe)
