"""The files a model lives in, and how a name or a file becomes a network.

``cards`` (model cards, the zoo table, cards inside files; torch-free), ``weights`` (the per-user
cache, checked downloads, shipped files; torch-free), ``checkpoint`` (the reader of each kind of
weights file), ``community`` (community SR models through spandrel) and ``loading`` (zoo name /
checkpoint / ``.pth`` / ``.safetensors`` -> network + card, the one resolver every command uses).

May import: :mod:`translate.nets` and the ground floor; never :mod:`translate.data` (a sibling)
or anything above. This ``__init__`` imports nothing, so cards and weights stay torch-free.
"""
