import pytest

from tests.train.recipes._formulas import single_thread


@pytest.fixture
def one_thread():
    """torch on one CPU thread during the test (see :func:`tests.train.recipes._formulas.single_thread`)."""
    with single_thread():
        yield
