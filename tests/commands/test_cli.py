"""The `translate` command itself: version naming this project (not PyPI's text-translation `translate`)."""

import pytest

from translate.cli import main
from translate.version import DISTRIBUTION, __version__


def test_version_names_this_project(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert __version__ in out and DISTRIBUTION == "translate-gan" and "translate-gan" in out and "GAN" in out
