"""The shipped models: ``<name>.safetensors``, each with its model card in the header.

pyproject.toml maps this folder into the package as ``translate._weights`` (package-dir), so that
wheels and sdists carry the files and :data:`translate.models.cards.SHIPPED_WEIGHTS` finds them
with :func:`importlib.resources.files`; this file makes the folder that package (an editable
install resolves no namespace package there). No code.
"""
