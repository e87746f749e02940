"""Paired (A|B) and unpaired datasets: splitting, shared augmentation, seeding, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from translate.data.datasets import AlignedDataset, UnalignedDataset
from translate.errors import TranslateError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB array as a PNG (lossless, so values survive exactly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([a, b], axis=1)


def solid(color: tuple[int, int, int], size: int = 32) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (size, size, 3)).copy()


def test_aligned_splits_halves_and_direction_swaps(tmp_path):
    write_rgb(tmp_path / "train" / "0.png", side_by_side(solid((255, 0, 0)), solid((0, 0, 255))))
    for direction, (a_channel, b_channel) in (("AtoB", (0, 2)), ("BtoA", (2, 0))):
        ds = AlignedDataset(tmp_path, direction=direction, load_size=40, crop_size=32)
        item = ds[0]
        assert item["A"].shape == item["B"].shape == (3, 32, 32)
        assert item["A"].dtype == torch.float32
        # the A image is pure red (AtoB) / pure blue (BtoA): that channel at +1, the others at -1
        for tensor, channel in ((item["A"], a_channel), (item["B"], b_channel)):
            expected = -torch.ones(3)
            expected[channel] = 1.0
            assert torch.allclose(tensor.mean(dim=(1, 2)), expected, atol=1e-3)


def test_aligned_halves_get_the_same_crop_and_flip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    write_rgb(tmp_path / "pair.png", side_by_side(a, 255 - a))  # B is the negative of A
    ds = AlignedDataset(tmp_path, preprocess="crop", crop_size=32, seed=3)
    crops = []
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[0]
        # same crop window and flip on both halves <=> B is still exactly the negative of A
        assert torch.allclose(item["A"] + item["B"], torch.zeros_like(item["A"]), atol=1e-6)
        crops.append(item["A"])
    # the augmentation does vary between epochs (else the check above would prove nothing)
    assert any(not torch.equal(crops[0], c) for c in crops[1:])


def test_aligned_resize_and_crop_is_identical_for_identical_halves(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    write_rgb(tmp_path / "pair.png", side_by_side(a, a))
    ds = AlignedDataset(tmp_path, load_size=48, crop_size=32)
    for epoch in range(3):
        ds.set_epoch(epoch)
        item = ds[0]
        assert torch.equal(item["A"], item["B"])


def test_resize_is_the_reference_pil_bicubic(tmp_path):
    # The reference loads images with torchvision Resize(Image.BICUBIC) on PIL images; OpenCV's
    # INTER_CUBIC (the former resize) is another kernel, off by up to 2.4 / 255 here.
    from PIL import Image as PILImage

    rgb = cv2.GaussianBlur(np.random.default_rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8), (5, 5), 1.5)
    write_rgb(tmp_path / "pair.png", side_by_side(rgb, rgb))
    item = AlignedDataset(tmp_path, preprocess="resize", crop_size=48, flip=False)[0]
    expected = np.asarray(PILImage.fromarray(rgb).resize((48, 48), PILImage.Resampling.BICUBIC), np.float32)
    ours = (item["A"].numpy().transpose(1, 2, 0) + 1) / 2 * 255
    assert np.abs(ours - expected).max() <= 1.5  # the reference rounds to uint8; we do not


def test_downscaling_is_antialiased(tmp_path):
    # 1-pixel stripes shrunk 128 -> 72 should average to grey, as PIL's bicubic does; an
    # un-widened cubic kernel (OpenCV INTER_CUBIC) turns them into moire (std 0.35 against 0.01).
    stripes = np.zeros((128, 128, 3), np.uint8)
    stripes[:, ::2] = 255
    write_rgb(tmp_path / "pair.png", side_by_side(stripes, stripes))
    item = AlignedDataset(tmp_path, load_size=72, crop_size=64, flip=False)[0]
    assert float(((item["A"] + 1) / 2).std()) < 0.05


def test_items_are_seeded_by_seed_epoch_and_index(tmp_path):
    a = np.random.default_rng(2).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    write_rgb(tmp_path / "pair.png", side_by_side(a, a))
    kwargs = dict(preprocess="crop", crop_size=16)
    first, again = AlignedDataset(tmp_path, seed=5, **kwargs), AlignedDataset(tmp_path, seed=5, **kwargs)
    assert torch.equal(first[0]["A"], again[0]["A"])  # another instance (another worker) agrees
    draws = []
    for epoch in range(4):
        first.set_epoch(epoch)
        draws.append(first[0]["A"])
    assert len({d.numpy().tobytes() for d in draws}) > 1


def test_grayscale_channels(tmp_path):
    write_rgb(tmp_path / "0.png", side_by_side(solid((255, 255, 255)), solid((0, 0, 0))))
    item = AlignedDataset(tmp_path, crop_size=32, load_size=32, input_nc=1)[0]
    assert item["A"].shape == (1, 32, 32) and item["B"].shape == (3, 32, 32)
    assert torch.allclose(item["A"], torch.ones_like(item["A"]))


def test_unaligned_length_and_random_b(tmp_path):
    for i in range(3):
        write_rgb(tmp_path / "trainA" / f"a{i}.png", solid((255, 0, 0)))
    for i in range(5):
        write_rgb(tmp_path / "trainB" / f"b{i}.png", solid((0, 255, 0)))
    ds = UnalignedDataset(tmp_path, load_size=36, crop_size=32)
    assert len(ds) == 5
    items = [ds[i] for i in range(len(ds))]
    assert [Path(it["A_path"]).name for it in items] == ["a0.png", "a1.png", "a2.png", "a0.png", "a1.png"]
    assert all(Path(it["B_path"]).parent.name == "trainB" for it in items)
    b_names = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        b_names |= {Path(ds[i]["B_path"]).name for i in range(len(ds))}
    assert len(b_names) > 1  # B is drawn at random, not paired by index
    assert torch.allclose(items[0]["A"][0], torch.ones(32, 32)) and torch.allclose(items[0]["B"][1], torch.ones(32, 32))


def test_missing_folders_explain_the_layout(tmp_path):
    with pytest.raises(TranslateError, match="trainA/ and trainB/.*translate convert"):
        UnalignedDataset(tmp_path)
    (tmp_path / "trainA").mkdir()
    with pytest.raises(TranslateError, match="missing trainB/"):
        UnalignedDataset(tmp_path)
    with pytest.raises(TranslateError, match="not found"):
        AlignedDataset(tmp_path / "nope")
    with pytest.raises(TranslateError, match="no images found"):
        AlignedDataset(tmp_path / "trainA")


def test_empty_and_corrupt_files_are_named(tmp_path):
    write_rgb(tmp_path / "good.png", side_by_side(solid((1, 2, 3)), solid((4, 5, 6))))
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(TranslateError, match="empty.png: file is empty"):
        AlignedDataset(tmp_path)
    (tmp_path / "empty.png").unlink()
    (tmp_path / "broken.jpg").write_text("not an image")
    ds = AlignedDataset(tmp_path, crop_size=32, load_size=32)
    index = [Path(f).name for f in ds.files].index("broken.jpg")
    with pytest.raises(TranslateError, match="broken.jpg: not a readable image") as err:
        ds[index]
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not DATA.is_dir(), reason="real images in ../shared/data are not available")
def test_real_datasets_load():
    paired = AlignedDataset(DATA / "paired" / "facades_mini", load_size=72, crop_size=64)
    assert len(paired) == 2  # the train/ subfolder is used
    item = paired[0]
    assert item["A"].shape == item["B"].shape == (3, 64, 64)
    assert -1.0 <= item["A"].min() < item["A"].max() <= 1.0
    unpaired = UnalignedDataset(DATA / "unpaired" / "horse2zebra_mini", load_size=72, crop_size=64)
    assert len(unpaired) == 2 and unpaired[1]["B"].shape == (3, 64, 64)
