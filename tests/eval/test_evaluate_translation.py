"""`translate eval translation`: label-map scores pooled over a split, photo scores, baselines, FID / KID."""

import json
from unittest import mock

import numpy as np
import pytest
import torch

from tests.helpers import write_png
from translate.cli import main
from translate.errors import TranslateError
from translate.eval.palettes import FACADES, draw, to_classes
from translate.eval.translation import confusion, evaluate_translation, label_scores
from translate.models.cards import ModelCard
from translate.models.checkpoint import save_shipped
from translate.nets.build import build_generator


def _label_pair_folder(folder, count: int, seed: int):
    """A|B files: A = a noisy photo-like image, B = a label map of 3 facades colours (64x64 each)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        ids = np.ones((64, 64), np.int64)  # facade
        ids[:8] = 0  # background on top
        y, x = rng.integers(10, 40, 2)
        ids[y:y + 16, x:x + 12] = 2  # a window
        photo = (ids[..., None] * 70 + rng.integers(0, 40, (64, 64, 3))).clip(0, 255).astype(np.uint8)
        write_png(folder / f"{i}.png", np.concatenate([photo, draw(ids, FACADES)], axis=1))
    return folder


def _tiny_translator(path, palette: str | None = "facades"):
    torch.manual_seed(0)
    generator = {"arch": "resnet_6blocks", "input_nc": 3, "output_nc": 3, "ngf": 4, "norm": "instance",
                 "use_dropout": False, "padding_type": "reflect"}
    card = ModelCard(name="tiny-p2l", task="pix2pix", generator=generator, multiple=4,
                     extra={"palette": palette} if palette else {})
    save_shipped(path, build_generator(**generator).state_dict(), card)
    return path


def test_confusion_and_scores_by_hand():
    truth = np.array([[0, 0, 1, 1]])
    predicted = np.array([[0, 1, 1, 1]])
    matrix = confusion(truth, predicted, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    scores = label_scores(matrix)
    # pixel 3/4; class acc mean(1/2, 1) (class 2 absent: not averaged); IoU mean(1/2, 2/3)
    assert scores == pytest.approx({"pixel_acc": 0.75, "class_acc": 0.75, "iou": (0.5 + 2 / 3) / 2})


def test_label_rows_pooled_and_baselines(tmp_path):
    test = _label_pair_folder(tmp_path / "d" / "test", 3, seed=1)
    _label_pair_folder(tmp_path / "d" / "train", 5, seed=2)
    model = _tiny_translator(tmp_path / "m.safetensors")
    report = evaluate_translation(str(model), test, device="cpu")  # palette from the card, train/ found beside
    assert list(report.methods) == ["model", "majority", "nearest"] and report.settings["target"] == "labels (facades)"
    # the majority class of the training maps is 'facade': its pixel accuracy is the facade share of the test maps
    truth = [to_classes(np.asarray(__import__("cv2").imread(str(p))[:, 64:, ::-1]), FACADES)
             for p in sorted(test.glob("*.png"))]
    facade_share = np.mean(np.concatenate([t.ravel() for t in truth]) == 1)
    assert report.mean("majority")["pixel_acc"] == pytest.approx(facade_share)
    # pooled = one confusion matrix over all pixels, not the mean of the per-image rows
    from translate.run.inference import load

    translator = load(str(model), device="cpu")
    total = np.zeros((12, 12), np.int64)
    for p, t in zip(sorted(test.glob("*.png")), truth):
        photo = np.ascontiguousarray(__import__("cv2").imread(str(p))[:, :64, ::-1])
        total += confusion(t, to_classes(translator(photo), FACADES), 12)
    assert report.mean("model") == pytest.approx(label_scores(total))
    assert len(report.methods["model"]) == 3 and 0 <= report.methods["model"][0].pixel_acc <= 1


def test_nearest_neighbour_retrieves_an_identical_training_item(tmp_path):
    test = _label_pair_folder(tmp_path / "test", 2, seed=3)
    report = evaluate_translation(None, test, palette="facades", train_data=test)
    assert report.mean("nearest") == pytest.approx({"pixel_acc": 1.0, "class_acc": 1.0, "iou": 1.0})


def test_photo_target_rows_and_cli_json(tmp_path, capsys):
    test = _label_pair_folder(tmp_path / "test", 2, seed=4)
    model = _tiny_translator(tmp_path / "m.safetensors", palette=None)
    assert main(["eval", "translation", "--model", str(model), "--data", str(test), "--direction", "BtoA",
                 "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["methods"]) == {"model", "input"} and report["settings"]["target"] == "photo"
    row = report["methods"]["model"]["images"][0]
    assert set(row) == {"image", "psnr_rgb", "ssim_rgb", "l1"} and 0 <= row["l1"] <= 1
    assert main(["eval", "translation", "--model", str(model), "--data", str(test), "--palette", "facades",
                 "--direction", "AtoB", "--summary", "--device", "cpu"]) == 0
    assert "ALL (2 images)           model" in capsys.readouterr().out


def test_translation_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslateError, match="no image"):
        evaluate_translation(None, tmp_path / "empty", palette="facades")
    test = _label_pair_folder(tmp_path / "test", 1, seed=5)
    with pytest.raises(TranslateError, match="nothing to evaluate"):
        evaluate_translation(None, test, palette="facades")
    with pytest.raises(TranslateError, match="bad.json"):
        evaluate_translation(None, test, palette=str(tmp_path / "bad.json"))


def test_predictions_from_elsewhere_score_like_the_model(tmp_path):
    """Outputs written by `translate run` (PNG, lossless) and scored through --predictions give the model's row."""
    test = _label_pair_folder(tmp_path / "test", 3, seed=6)
    model = _tiny_translator(tmp_path / "m.safetensors")
    import cv2

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in sorted(test.glob("*.png")):
        cv2.imwrite(str(inputs / path.name), cv2.imread(str(path))[:, :64])
    outputs = tmp_path / "outputs"
    assert main(["run", str(model), str(inputs), "-o", str(outputs), "--device", "cpu"]) == 0
    before = {f.name: f.read_bytes() for f in outputs.iterdir()}
    names = sorted(f.name for f in outputs.iterdir())
    assert names == ["0_m.png", "1_m.png", "2_m.png"], names  # run names outputs NAME_MODEL.png
    report = evaluate_translation(str(model), test, device="cpu", predictions=outputs, prediction_suffix="_m")
    assert list(report.methods)[:2] == ["model", "predictions"]
    assert report.pooled["predictions"] == pytest.approx(report.pooled["model"])
    assert {f.name: f.read_bytes() for f in outputs.iterdir()} == before  # read, never touched

    # the reference test.py layout: NAME_fake_B.png beside NAME_real_A.png / NAME_real_B.png
    results = tmp_path / "results"
    results.mkdir()
    for f in outputs.iterdir():
        stem = f.stem.removesuffix("_m")
        (results / f"{stem}_fake_B.png").write_bytes(f.read_bytes())
        (results / f"{stem}_real_A.png").write_bytes(f.read_bytes())
    assert main(["eval", "translation", "--data", str(test), "--palette", "facades", "--predictions", str(results),
                 "--prediction-suffix", "_fake_B", "--json"]) == 0
    with pytest.raises(TranslateError, match=r"no image named '1_fake_B\.\*' for test file 1\.png"):
        (results / "1_fake_B.png").unlink()
        evaluate_translation(None, test, palette="facades", predictions=results, prediction_suffix="_fake_B")
    (outputs / "0_m.jpg").write_bytes(b"x")
    with pytest.raises(TranslateError, match=r"2 images \(0_m\.jpg, 0_m\.png\)"):
        evaluate_translation(None, test, palette="facades", predictions=outputs, prediction_suffix="_m")
    (outputs / "0_m.jpg").unlink()
    cv2.imwrite(str(outputs / "0_m.png"), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(TranslateError, match="32x32, but the target of 0.png is 64x64"):
        evaluate_translation(None, test, palette="facades", predictions=outputs, prediction_suffix="_m")


@pytest.fixture(scope="module")
def stand_in_inception(tmp_path_factory):
    """A locally placed stand-in for the FID Inception weights: the real architecture and keys
    (torchmetrics / torch-fidelity), random He-initialised weights, so features differ per image."""
    pytest.importorskip("torchmetrics")
    import torch_fidelity.feature_extractor_inceptionv3 as fe
    from torchmetrics.image.fid import NoTrainInceptionV3

    with mock.patch.object(fe, "load_state_dict_from_url", return_value={}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None):
        net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
    torch.manual_seed(0)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.slow
def test_fid_kid_download_into_the_cache_then_offline(stand_in_inception, tmp_path, monkeypatch):
    """The real download path, from a local file:// URL: checked against the SHA-256 prefix, cached,
    then used offline; identical sets score 0, shifted colours score higher."""
    import translate.eval.fid
    from translate.models.weights import sha256_file

    monkeypatch.setenv("TRANSLATE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(translate.eval.fid, "INCEPTION_URL", stand_in_inception.as_uri())
    monkeypatch.setattr(translate.eval.fid, "INCEPTION_SHA256_PREFIX", sha256_file(stand_in_inception)[:8])
    rng = np.random.default_rng(0)
    real = [rng.integers(0, 256, (48, 40, 3), dtype=np.uint8) for _ in range(5)]
    shifted = [np.clip(r.astype(int) + 80, 0, 255).astype(np.uint8) for r in real]
    scores = translate.eval.fid.fid_kid(real, {"same": real, "shifted": shifted}, progress=False)
    assert translate.eval.fid.inception_weights_path().is_file()
    assert abs(scores["same"]["fid"]) < 1e-3 and abs(scores["same"]["kid"]) < 1e-3
    assert scores["shifted"]["fid"] > 1.0 and scores["shifted"]["kid"] > 1e-3
    monkeypatch.setattr(translate.eval.fid, "INCEPTION_URL", (tmp_path / "offline" / "w.pth").as_uri())
    assert translate.eval.fid.inception_weights(progress=False) == translate.eval.fid.inception_weights_path()  # offline
    monkeypatch.setattr(translate.eval.fid, "INCEPTION_SHA256_PREFIX", "00000000")  # a damaged cache is refused
    with pytest.raises(TranslateError, match="corrupt"):
        translate.eval.fid.inception_weights(progress=False)


def test_fid_offline_names_the_file_to_place(tmp_path, monkeypatch):
    pytest.importorskip("torchmetrics")
    import translate.eval.fid

    monkeypatch.setenv("TRANSLATE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(translate.eval.fid, "INCEPTION_URL", (tmp_path / "nowhere" / "w.pth").as_uri())
    images = [np.zeros((8, 8, 3), np.uint8)] * 2
    with pytest.raises(TranslateError) as err:
        translate.eval.fid.fid_kid(images, {"x": images}, progress=False)
    message = str(err.value)
    assert "\n" not in message and str(translate.eval.fid.inception_weights_path()) in message
    assert "--inception-weights FILE" in message
    with pytest.raises(TranslateError, match="no such file"):
        translate.eval.fid.fid_kid(images, {"x": images}, weights=tmp_path / "missing.pth")
    pickled = tmp_path / "pickled.pth"  # torch-fidelity would unpickle it fully: refused before that
    torch.save({"not_a_tensor": __import__("pathlib").Path("x")}, pickled)
    with pytest.raises(TranslateError, match="pickled.pth"):
        translate.eval.fid.fid_kid(images, {"x": images}, weights=pickled)


@pytest.mark.slow
def test_cli_fid_rows_with_inception_weights_file(stand_in_inception, tmp_path, capsys):
    test = _label_pair_folder(tmp_path / "test", 3, seed=6)
    assert main(["eval", "translation", "--data", str(test), "--train-data", str(test), "--direction", "BtoA",
                 "--fid", "--inception-weights", str(stand_in_inception), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["methods"]) == {"nearest", "input"}
    nearest = report["methods"]["nearest"]["mean"]  # retrieval from the test set itself: the real photos
    assert abs(nearest["fid"]) < 1e-3 and (nearest["psnr_rgb"] == float("inf") or nearest["psnr_rgb"] > 99)
    assert report["methods"]["input"]["mean"]["fid"] > 1.0


def test_cli_bn_train_mode_scores_the_model_as_the_reference_test_py(tmp_path, capsys):
    test = _label_pair_folder(tmp_path / "test", 2, seed=4)
    torch.manual_seed(0)
    generator = {"arch": "unet_128", "input_nc": 3, "output_nc": 3, "ngf": 4, "norm": "batch", "use_dropout": False}
    net = build_generator(**generator)
    for m in net.modules():  # running statistics far from any image's, so the two modes differ
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(0.5)
            m.running_var.fill_(4.0)
    model = tmp_path / "bn.safetensors"
    save_shipped(model, net.state_dict(), ModelCard(name="tiny-bn", task="pix2pix", generator=generator, multiple=128))
    rows = {}
    for flags in ([], ["--bn-train-mode"]):
        assert main(["eval", "translation", "--model", str(model), "--data", str(test), "--palette", "none",
                     "--json", "--device", "cpu", *flags]) == 0
        report = json.loads(capsys.readouterr().out)
        rows[bool(flags)] = report["methods"]["model"]["images"][0]["l1"]
        assert ("mode" in report["settings"]) == bool(flags)
    assert rows[True] != rows[False]
