"""tools/ship/domain_classifier_score.py: separable domains are told apart, identical ones are not."""

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import save_official_generator, write_png

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ship" / "domain_classifier_score.py"
SIDE = 32


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("domain_classifier_score", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def smooth(rng: np.random.Generator) -> np.ndarray:
    """A smooth random colour field, uint8 (SIDE, SIDE, 3)."""
    coarse = rng.integers(40, 216, size=(4, 4, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def striped(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with dark vertical stripes 2 px wide every 4 px, at a random phase."""
    out = image.copy()
    phase = int(rng.integers(0, 4))
    for x in range(SIDE):
        if (x + phase) % 4 < 2:
            out[:, x] //= 4
    return out


def make_domains(root: Path, stripes: bool, train: int = 24, test: int = 20) -> Path:
    """trainA/trainB/testA/testB of smooth fields; B striped when ``stripes``, else drawn like A."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for domain in "AB":
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True)
            for i in range(n):
                image = smooth(rng)
                if domain == "B" and stripes:
                    image = striped(image, rng)
                write_png(folder / f"{i:03d}.png", image)
    return root


@pytest.mark.slow  # two classifier trainings and a generator on 20 images: ~15 s on the shared 2-core CPU
def test_separable_domains_and_translations(tool, tmp_path):
    data = make_domains(tmp_path / "data", stripes=True)
    # a hand-made "perfect translator": testA with stripes painted on, named like testA
    painted = tmp_path / "painted"
    painted.mkdir()
    rng = np.random.default_rng(1)
    for f in sorted((data / "testA").iterdir()):
        write_png(painted / f.name, striped(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), rng))
    generator = tmp_path / "g.pth"
    save_official_generator(generator, arch="resnet_6blocks", ngf=4, seed=0)
    report = tool.score(data, models=[("random G", str(generator))], outputs=[("painted", str(painted))],
                        classifier_size=SIDE, epochs=16, seeds=(0,))
    assert len(report) == 1
    report = report[0]
    assert report.train_images == (20, 20) and report.holdout_images == (4, 4)
    assert report.test_accuracy >= 0.9, report
    rows = report.rows
    assert rows["input (testA, untranslated)"]["called_target"] <= 0.2
    assert rows["painted"]["called_target"] >= 0.8
    assert rows["painted"]["mean_p_target"] > rows["input (testA, untranslated)"]["mean_p_target"] + 0.4
    assert rows["random G"]["images"] == 20 and 0 <= rows["random G"]["called_target"] <= 1
    # deterministic for a seed
    again = tool.score(data, models=[("random G", str(generator))], outputs=[("painted", str(painted))],
                       classifier_size=SIDE, epochs=16, seeds=(0,))
    assert again == [report]


@pytest.mark.slow  # a classifier training: ~5 s on the shared 2-core CPU
def test_identical_domains_are_near_chance(tool, tmp_path):
    data = make_domains(tmp_path / "data", stripes=False, test=40)
    [report] = tool.score(data, classifier_size=SIDE, epochs=8)
    assert abs(report.test_accuracy - 0.5) <= 0.25, report


def test_cli_writes_json_and_reports_bad_data_in_one_line(tool, tmp_path, capsys):
    data = make_domains(tmp_path / "data", stripes=True, train=12, test=4)
    out = tmp_path / "score.json"
    assert tool.main(["--data", str(data), "--classifier-size", str(SIDE), "--epochs", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "balanced accuracy" in printed and "input (testA, untranslated)" in printed
    saved = json.loads(out.read_text())
    [first] = saved["reports"]
    assert first["direction"] == "AtoB" and first["seed"] == 0 and "input (testA, untranslated)" in first["rows"]
    assert saved["mean_called_target"] == {k: v["called_target"] for k, v in first["rows"].items()}

    # several seeds: one classifier each on the same rows, the per-seed table and its mean
    assert tool.main(["--data", str(data), "--classifier-size", str(SIDE), "--epochs", "2", "--seed", "3",
                      "--seed", "4", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "per classifier seed" in printed and "seed 3" in printed and "seed 4" in printed
    saved = json.loads(out.read_text())
    assert [r["seed"] for r in saved["reports"]] == [3, 4]
    row = "input (testA, untranslated)"
    assert saved["mean_called_target"][row] == pytest.approx(
        sum(r["rows"][row]["called_target"] for r in saved["reports"]) / 2)

    # the other direction: the classifier's target is A, the untranslated row is testB
    assert tool.main(["--data", str(data), "--classifier-size", str(SIDE), "--epochs", "2", "--direction", "BtoA",
                      "--json", str(out)]) == 0
    [saved] = json.loads(out.read_text())["reports"]
    assert saved["direction"] == "BtoA" and list(saved["rows"]) == ["input (testB, untranslated)"]
    assert "called A" in capsys.readouterr().out

    # --fid with a weights file that is not there: one line, before any training
    assert tool.main(["--data", str(data), "--fid", "--inception-weights", str(tmp_path / "none.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("domain_classifier_score.py: error:") and "none.pth" in err and "\n" not in err

    (data / "trainB").rename(tmp_path / "elsewhere")
    assert tool.main(["--data", str(data), "--classifier-size", str(SIDE), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("domain_classifier_score.py: error:") and "trainB" in err and "\n" not in err
