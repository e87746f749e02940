"""Data: what each recipe reads, how images are degraded, and turning folders into those layouts.

``layouts`` (every dataset layout and its pairing rule, torch-free), ``degradations`` (MATLAB
bicubic, synthetic rain, inpainting masks; numpy + OpenCV), ``convert`` (`translate convert`,
torch-free), and the torch datasets ``datasets`` (paired / unpaired), ``sr``, ``derain`` and
``inpaint``, which import torch themselves.

May import: :mod:`translate.nets` (an architecture's fixed input size) and the ground floor;
never :mod:`translate.models` (a sibling) or anything above. This ``__init__`` imports nothing.
"""
