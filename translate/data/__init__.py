"""Training data: dataset folders, augmentation pipelines and degradations.

This package module imports nothing heavy: :mod:`translate.data.degradations` (MATLAB bicubic
resize, synthetic rain, inpainting masks) is numpy + OpenCV only and is used by the torch-free
`translate convert`; the torch datasets live in their own modules and import torch themselves.
"""
