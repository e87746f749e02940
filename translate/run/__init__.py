"""Running a model: the one image pipeline and everything that drives it.

``pipeline`` (pad / tile / blend / crop around any backend; numpy + OpenCV, no torch), ``holes``
(fixed-size inpainting), ``runtime`` (onnxruntime sessions for apps, no torch), ``inference``
(PyTorch networks as pipeline backends; :func:`translate.run.inference.load`), ``video``
(frame-by-frame through the pipeline; decoding in ``video_reader``, encoding in ``video_writer``,
their shared PyAV helpers in ``video_av``; no torch), ``budget`` (the work one image may cause,
bounded before it starts, for `run` and `serve`; no torch), ``serve`` (the HTTP service) and
``web/`` (its page).

May import: :mod:`translate.models`, :mod:`translate.data`, :mod:`translate.nets` and the ground
floor; never :mod:`translate.train`, :mod:`translate.export`, :mod:`translate.eval` or the CLI.
This ``__init__`` imports nothing, so the torch-free modules here stay torch-free.
"""
