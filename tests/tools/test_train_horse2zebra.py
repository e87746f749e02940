"""tools/ship/train_horse2zebra.sh: each target starts a real run, and the same command resumes it."""

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real `translate train` processes at 128x128: several seconds each

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "ship" / "train_horse2zebra.sh"


def _run(target: str, data: Path, runs: Path, iters: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA": str(data), "RUNS": str(runs), "SMOKE_ITERS": str(iters)}
    return subprocess.run(["bash", str(SCRIPT), target], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def data(tmp_path, shared_data):
    """DATA with unpaired/horse2zebra = the 2 + 2 image horse2zebra_mini (linked, not copied)."""
    mini = shared_data / "unpaired" / "horse2zebra_mini"
    if not mini.is_dir():
        pytest.skip(f"{mini} not present")
    (tmp_path / "data" / "unpaired").mkdir(parents=True)
    (tmp_path / "data" / "unpaired" / "horse2zebra").symlink_to(mini)
    return tmp_path / "data"


# fastcut is the cut branch with --mode fastcut and its own schedule (left out: ~20 s more)
@pytest.mark.parametrize("target,recipe_keys", [
    ("cut", {"mode": "cut", "epochs": 3, "epochs_decay": 2}),
    ("cyclegan", {"lambda_identity": 0.5, "epochs": 2, "epochs_decay": 2}),
])
def test_target_trains_and_resumes(data, tmp_path, target, recipe_keys):
    runs = tmp_path / "runs"
    first = _run(target, data, runs, 1)
    assert first.returncode == 0, first.stderr[-2000:]
    run = runs / f"h2z-{target}-smoke"  # smoke runs never share the real run's folder
    assert (run / "checkpoints" / "latest.pt").is_file()
    config = json.loads((run / "config.json").read_text())
    expected = {"ngf": 16, "ndf": 32, "load_size": 143, "crop_size": 128, "save_every": 200, **recipe_keys}
    assert {k: config[k] for k in expected} == expected
    if target != "cut":
        return
    second = _run(target, data, runs, 2)  # the same command again: resumes at iteration 2
    assert second.returncode == 0, second.stderr[-2000:]
    assert "iteration=2/2" in second.stdout + second.stderr
    assert "iteration=1/" not in second.stdout + second.stderr


def test_missing_data_is_one_line(tmp_path):
    result = _run("cut", tmp_path / "nowhere", tmp_path / "runs", 1)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unpaired/horse2zebra/trainA" in result.stderr
    assert not (tmp_path / "runs").exists()
