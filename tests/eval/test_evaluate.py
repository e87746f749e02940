"""`translate eval sr`: the MATLAB-convention benchmark (bicubic Set5 x4 = 28.43 dB) and model rows."""

import json

import numpy as np
import pytest
import torch

from tests.helpers import random_image, write_png
from translate.cli import main
from translate.errors import TranslateError
from translate.eval.report import EvalReport, format_report
from translate.eval.restoration import evaluate_sr, score_images, sr_pair
from translate.models.cards import ModelCard
from translate.models.checkpoint import save_shipped
from translate.nets.build import build_generator


def _bicubic_like_model(path, scale: int = 4):
    """A shipped SRResNet whose residual branch is zero: its output is the (PyTorch) bicubic upscaling."""
    generator = {"arch": "srresnet", "scale": scale, "num_blocks": 1, "num_feat": 4, "head_kernel": 3}
    net = build_generator(**generator)
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    card = ModelCard(name="tiny-sr", task="sr", generator=generator, mean=0.0, std=1.0, multiple=1, scale=scale)
    save_shipped(path, net.state_dict(), card)
    return path


def test_set5_x4_bicubic_and_model_rows(shared_data, tmp_path, capsys):
    set5 = shared_data / "sr" / "Set5"
    if not set5.is_dir():
        pytest.skip(f"{set5} not present")
    model = _bicubic_like_model(tmp_path / "tiny.safetensors")
    assert main(["eval", "sr", "--model", str(model), "--data", str(set5), "--scale", "4", "--json",
                 "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    bicubic, ours = report["methods"]["bicubic"], report["methods"]["model"]
    assert abs(bicubic["mean"]["psnr_y"] - 28.43) <= 0.02
    assert 0.80 < bicubic["mean"]["ssim_y"] < 0.82 and bicubic["mean"]["psnr_rgb"] < bicubic["mean"]["psnr_y"]
    assert [r["image"] for r in ours["images"]] == [r["image"] for r in bicubic["images"]] and len(ours["images"]) == 5
    # PyTorch's bicubic (a = -0.75, no antialiasing needed to upscale) is close to MATLAB's (a = -0.5)
    assert abs(ours["mean"]["psnr_y"] - 28.43) < 0.5

    assert main(["eval", "sr", "--data", str(set5), "--summary"]) == 0
    text = capsys.readouterr().out
    assert "MEAN (5 images)          bicubic        28.4" in text and "model" not in text.split("\n", 1)[1]


def test_scores_and_pairs(tmp_path):
    write_png(tmp_path / "a.png", random_image(30, 27, seed=2))
    hr, lr = sr_pair(tmp_path / "a.png", 4)
    assert hr.shape == (28, 24, 3) and lr.shape == (7, 6, 3) and lr.dtype == np.uint8
    perfect = score_images("a", hr, hr, 4)
    assert perfect.psnr_y == float("inf") and perfect.ssim_rgb == pytest.approx(1.0)
    report = evaluate_sr(None, tmp_path, 4)
    assert list(report.methods) == ["bicubic"] and isinstance(report, EvalReport)
    assert "a.png" in format_report(report) and "a.png" not in format_report(report, per_image=False)


def test_scale_mismatch_and_empty_folder(tmp_path):
    model = _bicubic_like_model(tmp_path / "x2.safetensors", scale=2)
    (tmp_path / "imgs").mkdir()
    write_png(tmp_path / "imgs" / "a.png", random_image(16, 16))
    with pytest.raises(TranslateError, match="x2, not x4"):
        evaluate_sr(str(model), tmp_path / "imgs", 4, device="cpu")
    report = evaluate_sr(str(model), tmp_path / "imgs", 2, device="cpu")
    assert report.methods["model"][0].psnr_y > 10
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslateError):
        evaluate_sr(None, tmp_path / "empty", 4)
    assert main(["eval", "sr", "--data", str(tmp_path / "imgs"), "--no-bicubic"]) == 2
