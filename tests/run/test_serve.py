"""`translate serve`: the HTTP API on tiny models (the bytes `translate run` writes, every 4xx, the
429 limit, torch-free ONNX serving), the command's one-line errors, and the browser page driven
by headless Debian chromium through Selenium against the real server."""

import base64
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
pytest.importorskip("python_multipart", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
from fastapi.testclient import TestClient  # noqa: E402

from translate.cli import main
from translate.models.cards import ModelCard  # noqa: E402
from translate.run.pipeline import Translator
from translate.run.serve import Limits, ServedModel, create_app, load_models

from tests.helpers import headless_chromium, random_image, save_official_generator, write_png
from tests.hostile_helpers import (METADATA_FORMAT, METADATA_KEY, one_error_line, write_huge_canvas_webp,
                                   write_identity_onnx, write_lying_png)

ROOT = Path(__file__).resolve().parents[2]


def write_inpaint_onnx(path: Path) -> Path:
    """A torch-free stand-in for an inpainting model: inputs ``image`` (N, 3) and ``mask`` (N, 1),
    output ``image - mask`` (the hole comes out darker), 32 px windows."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph([helper.make_node("Sub", ["image", "mask"], ["output"])], "inpaint", [image, mask], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = ModelCard(name="hole", task="inpaint", generator={"arch": "context_encoder"}, multiple=1,
                     extra={"image_size": 32})
    helper.set_model_props(model, {METADATA_KEY: json.dumps({"format": METADATA_FORMAT, "card": card.to_dict()})})
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    pth = folder / "tiny.pth"
    save_official_generator(pth, "resnet_6blocks", ngf=8, seed=5)
    return {"folder": folder, "pth": pth, "onnx": write_identity_onnx(folder / "ident.onnx"),
            "inpaint": write_inpaint_onnx(folder / "hole.onnx")}


@pytest.fixture(scope="module")
def client(files):
    models = load_models([str(files["pth"]), str(files["onnx"]), str(files["inpaint"])], device="cpu")
    with TestClient(create_app(models, Limits(max_upload_bytes=200_000, max_pixels=300 * 300))) as c:
        yield c


def post(client, query: str, image: bytes, name: str = "in.png", mask: bytes | None = None, **kwargs):
    upload = {"image": (name, image, "image/png")}
    if mask is not None:
        upload["mask"] = ("mask.png", mask, "image/png")
    return client.post(f"/v1/translate?{query}", files=upload, **kwargs)


def run_cli(*args) -> int:
    return main([str(a) for a in args] + ["--device", "cpu"])


def detail(response, status: int) -> str:
    """The one-line ``detail`` of an error response with ``status``."""
    assert response.status_code == status, response.text
    text = response.json()["detail"]
    assert isinstance(text, str) and "\n" not in text and "Traceback" not in text, text
    return text


# --- the same bytes as `translate run` ------------------------------------------------------------

@pytest.mark.parametrize("options, suffix, accept", [
    ((), ".png", None),
    (("--tile", "32", "--tile-overlap", "8"), ".png", None),
    ((), ".jpg", "image/jpeg"),
])
def test_output_is_what_translate_run_writes(client, files, tmp_path, options, suffix, accept):
    src = write_png(tmp_path / "odd.png", random_image(45, 61, c=4, seed=1))  # odd size, alpha
    out = tmp_path / f"run{suffix}"
    assert run_cli("run", files["pth"], src, "-o", out, *options) == 0
    query = "model=tiny" + "".join(f"&{k.lstrip('-').replace('-', '_')}={v}" for k, v in zip(options[::2], options[1::2]))
    response = post(client, query, src.read_bytes(), "odd.png", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ("image/jpeg" if suffix == ".jpg" else "image/png")
    assert response.headers["content-disposition"] == f'inline; filename="odd_tiny{suffix}"'
    assert response.content == out.read_bytes()


def test_sixteen_bit_and_explicit_format(client, files, tmp_path):
    src = write_png(tmp_path / "deep.png", random_image(20, 24, dtype=np.uint16, seed=2))
    assert run_cli("run", files["onnx"], src, "-o", tmp_path / "run.png") == 0
    assert post(client, "model=ident&format=png", src.read_bytes(),
                headers={"Accept": "image/jpeg"}).content == (tmp_path / "run.png").read_bytes()


def test_inpainting_mask_upload(client, files, tmp_path):
    src = write_png(tmp_path / "photo.png", random_image(40, 48, seed=3))
    hole = np.zeros((40, 48), np.uint8)
    hole[10:20, 12:30] = 255
    mask = write_png(tmp_path / "mask.png", hole)
    assert run_cli("run", files["inpaint"], src, "--mask", mask, "-o", tmp_path / "run.png") == 0
    response = post(client, "model=hole", src.read_bytes(), mask=mask.read_bytes())
    assert response.status_code == 200, response.text
    assert response.content == (tmp_path / "run.png").read_bytes()
    assert "inpainting model" in detail(post(client, "model=hole", src.read_bytes()), 422)
    small = write_png(tmp_path / "small.png", hole[:20])
    assert "48x20 but the image is 48x40" in detail(post(client, "model=hole", src.read_bytes(),
                                                         mask=small.read_bytes()), 422)
    assert "inpainting models only" in detail(post(client, "model=tiny", src.read_bytes(),
                                                   mask=mask.read_bytes()), 422)
    assert "mask mask.png: not a readable image" in detail(post(client, "model=hole", src.read_bytes(),
                                                                mask=b"not an image"), 415)


# --- models, health, docs, page -------------------------------------------------------------------

def test_models_health_docs_and_page(client):
    listed = client.get("/v1/models").json()
    by_name = {m["name"]: m for m in listed["models"]}
    assert list(by_name) == ["tiny", "ident", "hole"]
    assert by_name["tiny"]["runtime"] == "pytorch" and by_name["ident"]["runtime"] == "onnxruntime"
    assert by_name["tiny"]["card"]["generator"]["arch"] == "resnet_6blocks"
    assert by_name["hole"]["needs_mask"] and not by_name["tiny"]["needs_mask"]
    assert listed["limits"]["max_pixels"] == 300 * 300
    assert client.get("/healthz").json() == {"status": "ok", "models": ["tiny", "ident", "hole"], "in_flight": 0}
    schema = client.get("/openapi.json").json()
    assert {"/v1/translate", "/v1/models", "/healthz"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and "v1/translate" in page.text


def test_a_checkpoint_with_both_generators_is_served_both_ways(tmp_path):
    import torch

    from translate.nets.build import build_generator

    # a `translate train` CycleGAN checkpoint: G_A (AtoB) and G_B (BtoA) in one file
    generator = {"arch": "resnet_2blocks", "ngf": 8, "norm": "instance"}
    nets, cards = {}, {}
    for name, direction, seed in (("G_A", "AtoB", 1), ("G_B", "BtoA", 2)):
        torch.manual_seed(seed)
        nets[name] = build_generator(**generator).state_dict()
        cards[name] = ModelCard(name=f"ck_{name}", task="cyclegan", generator=generator, direction=direction).to_dict()
    torch.save({"format": "translate-checkpoint", "version": 1, "recipe": "cyclegan", "config": {},
                "nets": nets, "cards": cards}, tmp_path / "ck.pt")
    models = load_models([str(tmp_path / "ck.pt")], device="cpu")
    assert list(models["ck"].translators) == ["AtoB", "BtoA"]
    src = write_png(tmp_path / "x.png", random_image(24, 24, seed=4))
    with TestClient(create_app(models)) as client:
        outputs = {}
        for direction in ("AtoB", "BtoA"):
            assert run_cli("run", tmp_path / "ck.pt", src, "--direction", direction, "-o", tmp_path / f"{direction}.png") == 0
            response = post(client, f"direction={direction}", src.read_bytes())  # one model: no model= needed
            outputs[direction] = response.content
            assert response.content == (tmp_path / f"{direction}.png").read_bytes()
        assert outputs["AtoB"] != outputs["BtoA"]


# --- every 4xx: one line, the CLI's text ----------------------------------------------------------

def test_unreadable_images_are_415_with_the_cli_message(client, files, tmp_path, capsys):
    for name, content in (("empty.png", b""),
                          ("cut.png", write_png(tmp_path / "full.png", random_image(40, 40)).read_bytes()[:200])):
        (tmp_path / name).write_bytes(content)
        assert run_cli("run", files["pth"], tmp_path / name, "-o", tmp_path / "never.png") == 1
        cli_line = next(line for line in capsys.readouterr().err.splitlines() if "skipped" in line)
        reason = cli_line.split(f"{tmp_path / name}: ", 1)[1]
        assert detail(post(client, "model=tiny", content, name), 415) == f"{name}: {reason}"
    # data whose header gives no size is decoded only when too small to exceed --max-pixels (90000
    # pixels: 10 bytes); `translate run`, bounded by OpenCV's own limit, decodes and refuses it
    assert detail(post(client, "model=tiny", b"not an image", "notes.png"), 415).startswith(
        "notes.png: not a readable image within the limit of 90000 pixels (translate serve --max-pixels): its "
        "header gives no size")


def test_size_limits_are_413(client, tmp_path):
    big = write_png(tmp_path / "big.png", random_image(301, 300, seed=5)).read_bytes()
    assert len(big) < 400_000
    too_many = post(client, "model=ident", write_png(tmp_path / "wide.png", np.zeros((301, 300, 3), np.uint8)).read_bytes(),
                    "wide.png")
    assert detail(too_many, 413) == ("wide.png: 300x301 is 90300 pixels, more than the limit of 90000 (translate serve "
                                     "--max-pixels); use a smaller image")
    # headers are checked before decoding: these 60-byte files would be 415 (unreadable) if decoded
    lying = write_lying_png(tmp_path / "lying.png", width=400, height=400).read_bytes()
    assert detail(post(client, "model=ident", lying, "lying.png"), 413).startswith("lying.png: 400x400 is 160000 pixels")
    bomb = write_lying_png(tmp_path / "bomb.png").read_bytes()  # 100000 x 100000
    assert detail(post(client, "model=ident", bomb, "bomb.png"), 413).startswith("bomb.png: its header claims more")
    assert detail(post(client, "model=hole", write_png_bytes(random_image(20, 20)), mask=lying),
                  413).startswith("mask mask.png: 400x400 is 160000 pixels")
    assert "more than this server's limit of 200000 bytes" in detail(post(client, "model=ident", big), 413)
    # without Content-Length (chunked): counted while it is read
    boundary = "b0und"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    response = client.post("/v1/translate?model=ident", content=chunks,
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert "limit of 200000 bytes" in detail(response, 413)


@pytest.mark.parametrize("side", [16383, 10000])
def test_animated_webp_with_a_huge_canvas_is_413_without_a_warning(client, tmp_path, monkeypatch, side):
    """The 140-byte bombs `translate run` refuses (tests/run/test_video.py): the header read by
    Pillow (over its bomb limit at 16383 px, over its warning limit at 10000) is one 413 line."""
    import warnings

    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 89_478_485)  # Pillow's default, whatever ran before
    data = write_huge_canvas_webp(tmp_path / "big.webp", side).read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = post(client, "model=ident", data, "big.webp")
    text = detail(response, 413)
    assert text.startswith("big.webp: ") and "the limit of 90000 (translate serve --max-pixels)" in text
    assert [str(w.message) for w in caught if "decompression bomb" in str(w.message)] == []


@pytest.mark.parametrize("query, status, expected", [
    ("model=tiny&tile=8", 422, "--tile 8 is too small for this model; use at least 16 (or 0 for no tiles)"),
    ("model=tiny&tile=32&tile_overlap=32", 422, "--tile-overlap (32) must be smaller than --tile (32)"),
    ("model=tiny&tile=16&tile_overlap=15", 422, "--tile-overlap 15 is more than half of --tile 16: each tile would "
                                                "add only 1 new px; use --tile-overlap 8 or less"),
    ("model=tiny&tile=abc", 422, "tile: Input should be a valid integer"),
    ("model=nope", 422, "model: no model 'nope' on this server; it serves tiny, ident, hole"),
    ("", 422, "model: give one of tiny, ident, hole"),
    ("model=tiny&format=gif", 422, "format: Input should be"),
    ("model=tiny&direction=BtoA", 422, "model tiny translates AtoB only; it has no BtoA generator"),
])
def test_bad_options_are_422(client, query, status, expected):
    image = write_png_bytes(random_image(20, 20))
    assert detail(post(client, query, image), status).startswith(expected)


def test_stride_one_tiling_is_refused_at_once(client, tmp_path):
    """The issue's request: 160x160 at stride 1 was 21,025 network calls holding the model's lock
    for minutes; it is a 422 before the upload is decoded."""
    image = write_png_bytes(random_image(160, 160, seed=7))
    start = time.monotonic()
    text = detail(post(client, "model=tiny&tile=16&tile_overlap=15", image), 422)
    assert text.startswith("--tile-overlap 15 is more than half of --tile 16") and time.monotonic() - start < 5
    assert post(client, "model=tiny", image).status_code == 200  # the model is free


def test_too_many_tiles_are_a_422_before_the_network_runs(client, monkeypatch):
    from translate.run import pipeline

    monkeypatch.setattr(pipeline, "MAX_TILES", 100)  # 300 x 300 is this client's pixel limit
    monkeypatch.setattr(pipeline, "run_backend", lambda *a, **k: pytest.fail("the network ran"))
    text = detail(post(client, "model=tiny&tile=16&tile_overlap=8", write_png_bytes(random_image(200, 200))), 422)
    assert text == ("in.png: --tile 16 --tile-overlap 8: a 200x200 image would take 576 tiles, more than 100 (a network call "
                    "each); use --tile 28 or more (or 0 for no tiles)")


def write_png_bytes(array: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", array)[1].tobytes()


def test_gray_image_for_inpainting_and_missing_or_raw_upload(client):
    gray = write_png_bytes(random_image(32, 32, c=1))
    mask = write_png_bytes(np.full((32, 32), 255, np.uint8))
    assert "1-channel (gray) image" in detail(post(client, "model=hole", gray, mask=mask), 422)
    assert detail(client.post("/v1/translate?model=tiny", files={"other": ("x.png", gray)}), 422) == "image: Field required"
    raw = client.post("/v1/translate?model=tiny", content=gray, headers={"Content-Type": "image/png"})
    assert detail(raw, 415) == "send the image as multipart/form-data (field 'image'), not image/png"


class Blocking:
    """A backend that holds every call until ``release`` is set (identity otherwise)."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, x):
        self.entered.set()
        assert self.release.wait(20)
        return x


def test_requests_beyond_the_limit_are_429():
    backend = Blocking()
    card = ModelCard(name="slow", task="cyclegan", generator={"arch": "none"}, multiple=1)
    models = {"slow": ServedModel("slow", "slow", {"AtoB": Translator(backend, card)})}
    image = write_png_bytes(random_image(16, 16))
    with TestClient(create_app(models, Limits(max_concurrent=1, max_queue=1))) as client:
        results = []
        threads = [threading.Thread(target=lambda: results.append(post(client, "", image))) for _ in range(2)]
        threads[0].start()
        assert backend.entered.wait(20)  # the first is being translated
        threads[1].start()               # the second waits for the slot
        deadline = time.monotonic() + 20
        while client.get("/healthz").json()["in_flight"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        response = post(client, "", image)
        assert "the server is busy: 2 requests are in flight" in detail(response, 429)
        assert response.headers["retry-after"] == "1"
        backend.release.set()
        for t in threads:
            t.join(20)
        assert [r.status_code for r in results] == [200, 200]
        assert post(client, "", image).status_code == 200  # slots are given back


# --- torch-free ONNX serving ----------------------------------------------------------------------

def test_serving_onnx_does_not_import_torch(files):
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "import translate.cli, translate.commands.serve\n"
        "from translate.run.serve import create_app, load_models\n"
        "import cv2, numpy as np\n"
        f"models = load_models([{str(files['onnx'])!r}], device='cpu')\n"
        "image = cv2.imencode('.png', np.zeros((20, 24, 3), np.uint8))[1].tobytes()\n"
        "with TestClient(create_app(models)) as client:\n"
        "    response = client.post('/v1/translate', files={'image': ('x.png', image)})\n"
        "    assert response.status_code == 200, response.text\n"
        "    assert client.get('/v1/models').json()['models'][0]['runtime'] == 'onnxruntime'\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


# --- the command: one-line errors, the real server ------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--port", "abc"], "--port abc: must be an integer from 0 to 65535"),
    (["--port", "70000"], "--port 70000: must be an integer from 0 to 65535"),
    (["--max-concurrent", "0"], "--max-concurrent 0: must be an integer from 1 to 1024"),
    (["--host", "no.such.host.invalid"], "--host no.such.host.invalid: not an address of this machine"),
])
def test_bad_command_options_are_one_line(files, capsys, args, message):
    assert main(["serve", str(files["onnx"]), *args]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"translate: error: {message}")


def test_busy_port_and_unknown_model_are_one_line(files, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(files["onnx"]), "--port", str(port)]) == 2
        assert f"127.0.0.1:{port} is already in use" in one_error_line(capsys.readouterr().err)
    assert main(["serve", "no-such-model", "--port", "0"]) == 2
    assert "no-such-model: not a zoo model name" in one_error_line(capsys.readouterr().err)
    assert main(["serve", str(files["onnx"]), str(files["onnx"]), "--port", "0"]) == 2
    assert "already served as 'ident'" in one_error_line(capsys.readouterr().err)


@pytest.fixture(scope="module")
def live_server(files):
    """`python -m translate serve tiny.pth --port 0` in a subprocess: (base URL, process)."""
    proc = subprocess.Popen([sys.executable, "-m", "translate", "serve", str(files["pth"]), "--port", "0",
                             "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    line = ""
    while time.monotonic() < deadline and proc.poll() is None and not line:
        if select.select([proc.stdout], [], [], 1)[0]:
            line = proc.stdout.readline()
    if not line.startswith("translate serve: tiny on http://127.0.0.1:"):
        proc.kill()
        pytest.fail(f"the server did not start: {line!r} {proc.stderr.read()[-2000:]}")
    url = line.split(" on ", 1)[1].split()[0]
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_real_server_answers_like_translate_run(live_server, files, tmp_path):
    import httpx

    url, proc = live_server
    assert httpx.get(url + "healthz").json()["status"] == "ok"
    src = write_png(tmp_path / "p.png", random_image(30, 34, seed=6))
    assert run_cli("run", files["pth"], src, "-o", tmp_path / "run.png") == 0
    response = httpx.post(url + "v1/translate", files={"image": ("p.png", src.read_bytes())}, timeout=60)
    assert response.status_code == 200 and response.content == (tmp_path / "run.png").read_bytes()


def _browser():
    """Headless Debian chromium through Selenium, or a skip saying what is missing."""
    return headless_chromium("--disable-gpu")


OUTPUT_BYTES = """
const done = arguments[arguments.length - 1];
fetch(document.getElementById("output").src).then((r) => r.arrayBuffer()).then((buffer) => {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  done(btoa(text));
});
"""


@pytest.mark.slow
def test_browser_page_uploads_and_shows_the_translation(live_server, files, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = live_server
    src = write_png(tmp_path / "facade.png", random_image(36, 52, seed=7))
    assert run_cli("run", files["pth"], src, "-o", tmp_path / "run.png") == 0
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    browser = _browser()
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#model option"))
        browser.find_element(By.ID, "file").send_keys(str(src))  # picking a file translates it
        wait.until(lambda b: b.find_element(By.ID, "download").is_displayed() or b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        download = browser.find_element(By.ID, "download")
        assert download.get_attribute("download") == "facade_tiny.png"
        shown = browser.find_element(By.ID, "output")
        wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", shown))
        assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", shown) == [52, 36]
        assert browser.find_element(By.ID, "input").get_attribute("src").startswith("blob:")
        returned = base64.b64decode(browser.execute_async_script(OUTPUT_BYTES))
        assert returned == (tmp_path / "run.png").read_bytes()
        # a file that is not an image: the server's one line is shown, no picture
        browser.find_element(By.ID, "file").send_keys(str(bad))
        wait.until(lambda b: b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text.startswith("415: notes.png: not a readable image")
        assert not browser.find_element(By.ID, "download").is_displayed()
    finally:
        browser.quit()


def test_sigint_just_after_the_line_stops_a_server_whose_parent_ignores_sigint(files):
    # a background job of a script, or a pytest-xdist worker, starts it with SIGINT ignored: the
    # line's "Ctrl-C stops" must still hold at once, with the usual exit (it used to keep serving)
    proc = subprocess.Popen([sys.executable, "-m", "translate", "serve", str(files["pth"]), "--port", "0",
                             "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert select.select([proc.stdout], [], [], 90)[0], "the server printed nothing in 90 s"
        assert proc.stdout.readline().startswith("translate serve: tiny on http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        assert proc.stderr.read().strip().splitlines()[-1] == "translate: interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_server_stops_cleanly_on_sigint(live_server):
    _, proc = live_server  # runs last in this module: it stops the shared server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    err = proc.stderr.read()
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "translate: interrupted"
