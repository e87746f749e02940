from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real images); tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-image folder {SHARED_DATA} not present")
    return SHARED_DATA
