"""The JavaScript runtime (an npm package: package.json, index.js ...), installed with translate as
the package data ``translate._js`` (pyproject.toml's package-dir), so that `translate export --web`
finds the runtime and the page it copies (:func:`translate.export.web.runtime_folder`) in a wheel
install as in a checkout; this file makes the folder that package. No code.
"""
