"""Scoring models: the benchmarks behind `translate eval`.

``restoration`` and ``translation`` (one function per task, each next to its simple baselines),
``report`` (the per-image rows and table every task returns), ``fid`` (FID / KID through
torchmetrics) and ``palettes`` (label-map colours -> classes). PSNR / SSIM themselves
live on the ground floor (:mod:`translate.metrics`) because training and export score with them too.

May import: :mod:`translate.run`, :mod:`translate.data`, :mod:`translate.models`,
:mod:`translate.nets` and the ground floor; never :mod:`translate.export`,
:mod:`translate.train` or the CLI.
"""
