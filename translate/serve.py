"""The documented import path of :mod:`translate.run.serve` (``from translate.serve import ...``).

Apps and the README import it here; the module itself lives in :mod:`translate.run`. This name
is the same module object, not a copy, so every attribute (and a test's monkeypatch) is shared.
"""

import sys

from translate.run import serve as _module

sys.modules[__name__] = _module
