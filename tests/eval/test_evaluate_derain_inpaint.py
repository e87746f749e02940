"""`translate eval derain` / `translate eval inpaint`: rows, pairing, baselines and errors."""

import json

import numpy as np
import pytest
import torch

from translate.cli import main
from translate.errors import TranslateError
from translate.eval.restoration import evaluate_derain, evaluate_inpaint, score_hole
from translate.models.cards import ModelCard
from translate.models.checkpoint import save_shipped
from translate.nets.build import build_generator

from tests.helpers import random_image, write_png


def ship(path, task, generator, multiple):
    torch.manual_seed(0)
    net = build_generator(**generator).eval()
    card = ModelCard(name=path.stem, task=task, generator=generator, multiple=multiple)
    save_shipped(path, net.state_dict(), card)
    return str(path)


@pytest.fixture
def rain_data(tmp_path):
    for d in ("rain", "norain"):
        (tmp_path / d).mkdir()
    for i in (1, 2):
        clean = random_image(24, 32, seed=i)
        rainy = np.clip(clean.astype(int) + 20, 0, 255).astype(np.uint8)
        write_png(tmp_path / "norain" / f"norain-00{i}.png", clean)
        write_png(tmp_path / "rain" / f"rain-00{i}.png", rainy)
    return tmp_path


def test_derain_rows_identity_model_equals_input(rain_data, tmp_path):
    # an untrained residual de-rainer is the identity: its row must equal the input row
    model = ship(tmp_path / "id.safetensors", "derain",
                 {"arch": "derain", "ngf": 4, "growth": 4, "layers_per_block": 1, "levels": 2}, 4)
    report = evaluate_derain(model, rain_data / "rain", rain_data / "norain", device="cpu")
    assert list(report.methods) == ["input", "model"]
    assert [r.image for r in report.methods["input"]] == ["rain-001.png", "rain-002.png"]
    assert report.mean("model") == pytest.approx(report.mean("input"))
    assert report.mean("input")["psnr_y"] < 30


def test_derain_cli_input_target_and_data_forms(rain_data, capsys):
    assert main(["eval", "derain", "--input", str(rain_data / "rain"), "--target", str(rain_data / "norain"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["methods"]) == {"input"} and len(out["methods"]["input"]["images"]) == 2
    assert main(["eval", "derain", "--data", str(rain_data), "--summary"]) == 0
    assert "MEAN (2 images)" in capsys.readouterr().out
    assert main(["eval", "derain", "--input", str(rain_data / "rain")]) == 2
    assert "--target" in capsys.readouterr().err


def test_derain_unmatched_pairs_and_wrong_task(rain_data, tmp_path):
    model = ship(tmp_path / "ce.safetensors", "inpaint",
                 {"arch": "context_encoder", "ngf": 4, "max_channels": 8, "bottleneck": 8, "bottleneck_groups": 4},
                 128)
    with pytest.raises(TranslateError, match="is a model for 'inpaint', not for 'derain'"):
        evaluate_derain(model, rain_data / "rain", rain_data / "norain", device="cpu")
    (rain_data / "norain" / "norain-002.png").unlink()
    with pytest.raises(TranslateError, match="no clean partner.*rain-002.png"):
        evaluate_derain(None, rain_data / "rain", rain_data / "norain")


def test_score_hole():
    ref = np.zeros((4, 4, 3), np.uint8)
    out = ref.copy()
    out[0, 0] = 255
    hole = np.zeros((4, 4), bool)
    hole[:2, :2] = True
    s = score_hole("x", out, ref, hole)
    assert s.l1_hole == pytest.approx(0.25) and s.psnr_hole == pytest.approx(10 * np.log10(4))


def test_inpaint_rows_and_baselines(tmp_path, capsys):
    data = tmp_path / "imgs"
    data.mkdir()
    ramp = np.linspace(0, 255, 160)[None, :, None].repeat(140, 0).repeat(3, 2).astype(np.uint8)
    write_png(data / "ramp.png", ramp)  # smooth: diffusion (Telea) must beat a flat mean fill
    model = ship(tmp_path / "ce.safetensors", "inpaint",
                 {"arch": "context_encoder", "ngf": 4, "max_channels": 8, "bottleneck": 8, "bottleneck_groups": 4},
                 128)
    report = evaluate_inpaint(model, data, device="cpu")
    assert list(report.methods) == ["mean_fill", "telea", "model"]
    assert report.mean("telea")["psnr_hole"] > report.mean("mean_fill")["psnr_hole"]
    assert report.mean("telea")["l1_hole"] < report.mean("mean_fill")["l1_hole"]
    assert main(["eval", "inpaint", "--data", str(data), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "psnr_hole" in out and "telea" in out and "model" not in out.split("\n", 2)[2]
    write_png(data / "tiny.png", random_image(100, 100))
    with pytest.raises(TranslateError, match="at least 128x128"):
        evaluate_inpaint(None, data)
