"""Training: one loop (``trainer``) and the recipes that hold each task's math.

``trainer`` (the loop: devices, data loading, resume, DDP, AMP, progress, saving checkpoints)
with ``checkpoints`` (the run folder: what a checkpoint holds besides the recipe's state, reading
a run back for ``--resume``, checking ``--out``), ``runlog`` (``losses.jsonl``, image sheets, the
progress line) and ``failures`` (errors of a run turned into one line naming the fix);
``recipes/`` (one module per task), ``config`` (typed training options and their command line;
torch-free), ``losses``, ``diffaugment``, ``health`` (warnings about runs going wrong),
``monitor`` (TensorBoard, ``index.html``, loss plots), ``validation`` (PSNR / SSIM on held-out
pairs) and ``distributed`` (DDP, also used to shard `translate run` across processes).

May import: :mod:`translate.data`, :mod:`translate.models`, :mod:`translate.nets` and the ground
floor; never :mod:`translate.run`, :mod:`translate.export`, :mod:`translate.eval` or the CLI.
This ``__init__`` imports nothing, so :mod:`translate.train.config` and
:mod:`translate.train.recipes` stay torch-free at import.
"""
