"""tools/figures/facades_cut.sh: the docs figure shows test pairs' label halves and each model's column."""

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.cli import main

pytestmark = pytest.mark.slow  # a real one-iteration CUT run and four translators on three 256x256 images

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "figures" / "facades_cut.sh"
CELL, GAP, TOP = 160, 6, 28  # side_by_side.py --cell 160, its gap and caption bar


def _script(runs: Path, data: Path, out: Path, target: str = "label2photo") -> subprocess.CompletedProcess:
    env = {**os.environ, "RUNS": str(runs), "DATA": str(data), "OUT": str(out), "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), target], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=600)


def test_label2photo_figure(shared_data, tmp_path):
    facades_test = shared_data / "paired" / "facades" / "test"
    horses = shared_data / "unpaired" / "horse2zebra_mini"
    if not facades_test.is_dir() or not horses.is_dir():
        pytest.skip("facades test split or horse2zebra_mini not in ../shared/data")
    runs = tmp_path / "runs"
    out = tmp_path / "fig.jpg"
    missing = _script(runs, shared_data, out)  # no CUT run yet: one line, exit 2, nothing written
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "facades-cut-label2photo" in missing.stderr
    assert not out.exists()
    no_data = _script(runs, tmp_path / "nowhere", out)  # a wrong DATA: one line, exit 2, nothing written
    assert no_data.returncode == 2 and no_data.stderr.count("\n") == 1 and "paired/facades/test" in no_data.stderr
    assert not out.exists()

    # a real (one-iteration) CUT run stands in for both runs: the figure only needs loadable runs
    assert main(["train", "cut", "--data", str(horses), "--out", str(runs / "facades-cut-label2photo"),
                 "--max-iters", "1", "--netG", "resnet_2blocks", "--ngf", "4", "--ndf", "4", "--netF-nc", "16",
                 "--num-patches", "32", "--load-size", "36", "--crop-size", "32", "--workers", "0",
                 "--device", "cpu"]) == 0
    (runs / "facades-fastcut-label2photo").symlink_to(runs / "facades-cut-label2photo")
    done = _script(runs, shared_data, out)
    assert done.returncode == 0, done.stderr[-2000:]
    figure = cv2.imread(str(out))
    columns = 5  # input, pix2pix, CycleGAN, CUT, FastCUT
    assert figure.shape == (TOP + 3 * CELL + 2 * GAP, columns * CELL + (columns - 1) * GAP, 3)
    for row, name in enumerate(("1.jpg", "2.jpg", "3.jpg")):  # numeric order, the label (right) halves
        pair = cv2.imread(str(facades_test / name))
        label = pair[:, pair.shape[1] // 2:]
        expected = cv2.resize(label, (CELL, CELL), interpolation=cv2.INTER_NEAREST).astype(int)
        y = TOP + row * (CELL + GAP)
        shown = figure[y:y + CELL, :CELL].astype(int)
        assert np.abs(shown - expected).mean() < 8  # JPEG quality 85, not bit-exact
