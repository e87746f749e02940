"""tools/bench/bench_train.py --end-to-end on a tiny real-command run (the benchmark scripts themselves)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import random_image, write_png

pytestmark = pytest.mark.slow  # two `translate train` processes: a few seconds each

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "bench"


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_end_to_end_times_the_real_command(tmp_path, capsys):
    data = tmp_path / "pairs"
    (data / "train").mkdir(parents=True)
    for i in range(3):  # A|B pairs of 32x32 halves
        write_png(data / "train" / f"{i}.png", np.concatenate([random_image(32, 32, seed=i),
                                                               random_image(32, 32, seed=10 + i)], axis=1))
    out = tmp_path / "e2e.json"
    bench = _tool("bench_train")
    assert bench.main(["--end-to-end", "--recipes", "pix2pix", "--n1", "1", "--n2", "3", "--data-dir", str(data),
                       "--no-synthetic", "--device", "cpu", "--json", str(out), "--train-args",
                       "--netG unet_32 --ngf 4 --ndf 4 --load-size 32 --crop-size 32 --workers 0"]) == 0
    printed = capsys.readouterr().out
    assert "pix2pix" in printed and "failed" not in printed
    row = json.loads(out.read_text())["end_to_end"][0]
    assert row["recipe"] == "pix2pix" and (row["n1"], row["n2"]) == (1, 3)
    assert row["t_n2"] > 0 and row["t_n1"] > 0
    assert row["s_per_it"] == pytest.approx((row["t_n2"] - row["t_n1"]) / 2)


def test_end_to_end_reports_a_failing_command_in_one_line(tmp_path, capsys):
    bench = _tool("bench_train")
    assert bench.main(["--end-to-end", "--recipes", "pix2pix", "--n1", "1", "--n2", "2", "--no-synthetic",
                       "--device", "cpu", "--data-dir", str(tmp_path / "missing")]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("pix2pix")][0]
    assert "failed:" in line and "translate: error:" in line
