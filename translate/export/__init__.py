"""Exporting a model: one self-contained, verified ONNX file, and its int8 variant.

``onnx`` (export, verification against PyTorch, model card in the metadata), ``quantize``
(static int8 with a PSNR gate) and ``graph_rewrite`` (exact graph rewrites onnxruntime runs faster).

May import: :mod:`translate.run`, :mod:`translate.models`, :mod:`translate.nets` and the ground
floor; never :mod:`translate.eval`, :mod:`translate.train` or the CLI.
"""
