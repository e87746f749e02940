"""The page of `translate export --web`, as a user opens it: the folder served by
``python -m http.server``, headless Chromium (Selenium, as tests/run/test_serve.py drives it)
with every host but localhost unreachable, an image picked, the result's pixels compared with
`translate run` on the same file. WASM always; WebGPU where Chromium offers an adapter
(SwiftShader, its CPU Vulkan, with --enable-unsafe-webgpu)."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import headless_chromium, save_official_generator
from tests.js.conftest import js_package  # noqa: F401 - the fixture: js/ installed by `npm ci`
from translate.cli import main

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
#: No host but localhost resolves: the page must load everything from its own folder.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
WEBGPU_FLAGS = ("--enable-unsafe-webgpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader")

DOWNLOAD_BYTES = """
const done = arguments[arguments.length - 1];
fetch(document.getElementById("download").href).then((r) => r.arrayBuffer()).then((buffer) => {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  done(btoa(text));
});
"""


@pytest.fixture(scope="module")
def site(js_package, tmp_path_factory):
    """(folder, image, `translate run` output as RGB uint8) for a tiny ResNet's web app, served on localhost."""
    folder = tmp_path_factory.mktemp("web")
    pth = folder / "tiny_resnet.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    app = folder / "site"
    assert main(["export", str(pth), "--web", str(app)]) == 0
    image = folder / "facade.png"
    cv2.imwrite(str(image), cv2.imread(str(SAMPLES / "facade_labels.png"))[20:68, 30:94])  # real, 64x48 RGB
    model = next(app.glob("*.onnx"))
    assert main(["run", str(model), str(image), "-o", str(folder / "run.png"), "--device", "cpu"]) == 0
    expected = cv2.cvtColor(cv2.imread(str(folder / "run.png"), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "-b", "127.0.0.1", "-d", str(app)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/", image, expected
    finally:
        server.terminate()
        server.wait(10)


def _browser(*flags: str):
    return headless_chromium(OFFLINE, *flags)


def _translate_in_page(browser, url: str, image: Path, timeout: float = 120) -> tuple[str, str, np.ndarray]:
    """Open the page, pick ``image``, wait for the result: (backend, about line, result (H, W, C) uint8)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    wait = WebDriverWait(browser, timeout)

    def state(b) -> str:
        return b.execute_script("return document.body.dataset.state")

    wait.until(lambda b: state(b) in ("ready", "error"))
    assert state(browser) == "ready", browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "file").send_keys(str(image))
    wait.until(lambda b: state(b) in ("done", "error"))
    assert state(browser) == "done", browser.find_element(By.ID, "status").text
    out = browser.execute_script("const r = window.translateResult; return [r.width, r.height, r.channels, Array.from(r.data)]")
    width, height, channels, data = out
    return (browser.execute_script("return document.body.dataset.backend"), browser.find_element(By.ID, "about").text,
            np.array(data, np.uint8).reshape(height, width, channels))


def test_page_translates_a_dropped_image_on_wasm_like_translate_run(site):
    url, image, expected = site
    browser = _browser("--disable-gpu")
    try:
        backend, about, result = _translate_in_page(browser, url, image)
        assert backend == "wasm"
        assert "running on wasm (" in about and "WASM" in about  # why not WebGPU is said, not silent
        assert result.shape == expected.shape
        assert np.abs(result.astype(int) - expected).max() <= 1
        # the download link holds the same pixels as a PNG
        png = base64.b64decode(browser.execute_async_script(DOWNLOAD_BYTES))
        downloaded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGB)
        assert np.array_equal(downloaded, result)
        assert browser.find_element("id", "download").get_attribute("download") == "facade_tiny_resnet.png"
    finally:
        browser.quit()


def test_page_on_webgpu_in_swiftshader_reports_its_backend_and_matches(site):
    url, image, expected = site
    browser = _browser(*WEBGPU_FLAGS)
    try:
        browser.get(url)  # WebGPU exists in secure contexts only (localhost is one, about:blank is not)
        adapter = browser.execute_async_script(
            "const done = arguments[0]; navigator.gpu ? navigator.gpu.requestAdapter().then((a) => done(!!a), "
            "() => done(false)) : done(false)")
        if not adapter:
            pytest.skip("this Chromium offers no WebGPU adapter, even SwiftShader's, with " + " ".join(WEBGPU_FLAGS))
        backend, about, result = _translate_in_page(browser, url + "?backend=webgpu", image, timeout=300)
        assert backend == "webgpu", about
        assert np.abs(result.astype(int) - expected).max() <= 1
    finally:
        browser.quit()
