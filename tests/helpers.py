"""Small builders shared by tests: official-layout state dict files and test images."""

from pathlib import Path

import cv2
import numpy as np
import torch

from translate.nets.build import build_generator


def save_official_generator(path: Path, arch: str = "resnet_6blocks", ngf: int = 8, norm: str | None = None,
                            seed: int = 0, old_instance_stats: bool = False) -> dict:
    """Write a random generator's state dict as the reference implementation saves it."""
    torch.manual_seed(seed)
    norm = norm or ("batch" if arch.startswith("unet") else "instance")
    net = build_generator(arch, ngf=ngf, norm=norm, use_dropout=arch.startswith("unet"))
    state = net.state_dict()
    if old_instance_stats:
        state = dict(state)
        state["model.2.running_mean"] = torch.zeros(ngf)
        state["model.2.running_var"] = torch.ones(ngf)
        state["model.2.num_batches_tracked"] = torch.tensor(0)
    torch.save(state, path)
    return state


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write an RGB(A) / gray uint8 or uint16 array as png (RGB order in, BGR on disk)."""
    if array.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        array = cv2.cvtColor(array, code)
    assert cv2.imwrite(str(path), array)
    return path


def random_image(h: int, w: int, c: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    peak = 65535 if dtype == np.uint16 else 255
    shape = (h, w) if c == 1 else (h, w, c)
    return rng.integers(0, peak + 1, size=shape).astype(dtype)


def headless_chromium(*flags: str):
    """Headless Debian chromium through Selenium with ``flags`` added, or a skip saying what is
    missing (the browser tests of `translate serve`'s page and of `translate export --web`)."""
    import shutil

    import pytest

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver); .ci/run installs them when it can")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900", *flags):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
