"""Load and abuse tests of `translate serve` on localhost (issue #19): the work a request causes is
bounded before it starts (pixels in and out, tiles, memory), slow clients hold no slot, a request
has a deadline, a client that leaves stops its work, uvicorn's own 400s are JSON lines, and every
decoder failure is one line (503 for memory). Each runs against a real uvicorn server (in this
process, or `translate serve` in a subprocess where memory is measured), bounded in time."""

import contextlib
import json
import logging
import re
import resource
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
pytest.importorskip("python_multipart", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
import httpx  # noqa: E402

from translate.cli import main  # noqa: E402
from translate.models.cards import ModelCard  # noqa: E402
from translate.run.budget import OverBudget, WorkBudget, check_work, decode_within, header_size  # noqa: E402
from translate.run.pipeline import Translator  # noqa: E402
from translate.run.serve import Limits, ServedModel, create_app, http_protocol, load_models  # noqa: E402

from tests.helpers import random_image, save_official_generator, write_png
from tests.hostile_helpers import write_identity_onnx

ROOT = Path(__file__).resolve().parents[2]
CARD = ModelCard(name="slow", task="cyclegan", generator={"arch": "none"}, multiple=1)


def png_bytes(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", np.ascontiguousarray(array[..., ::-1]))[1].tobytes()


def png_with_bad_text_crc(height: int, width: int) -> bytes:
    """A black PNG of ``height`` x ``width`` with a tEXt chunk whose CRC is wrong: libpng only warns
    and decodes it whole; Pillow's strict header parse gives up on it."""
    data = png_bytes(np.zeros((height, width, 3), np.uint8))
    text = struct.pack(">I", 5) + b"tEXt" + b"a\x00bcd" + b"\0\0\0\0"
    return data[:33] + text + data[33:]  # after the 8-byte signature and the 25-byte IHDR chunk


def detail(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"] and "\n" not in body["detail"]
    return body["detail"]


class Counting:
    """A backend that sleeps ``delay`` seconds per call (a slow network) and counts its calls;
    ``entered`` is set at the first one."""

    def __init__(self, delay: float):
        self.delay, self.calls, self.entered = delay, 0, threading.Event()

    def __call__(self, x):
        self.calls += 1
        self.entered.set()
        time.sleep(self.delay)
        return x


@contextlib.contextmanager
def running(app, read_timeout: float = 30.0):
    """``app`` served by a real uvicorn (translate serve's protocol) on a free localhost port, in a
    thread: yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            http=http_protocol(read_timeout))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def slow_app(backend, **limits) -> object:
    return create_app({"slow": ServedModel("slow", "slow", {"AtoB": Translator(backend, CARD)})}, Limits(**limits))


def upload(url: str, image: bytes, query: str = "", timeout: float = 30, name: str = "in.png"):
    return httpx.post(f"{url}/v1/translate?{query}", files={"image": (name, image, "image/png")}, timeout=timeout)


def stalled_connection(url: str) -> socket.socket:
    """A client that sends its headers, announces a 100 kB body, sends the start of a valid upload
    (100 bytes of the image) and goes silent."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; "
                 b"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" + png_bytes(random_image(64, 64))[:100])
    return sock


def raw_request(url: str, data: bytes, wait: float = 10) -> bytes:
    """Send ``data`` on a new connection and read what comes back until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        with contextlib.suppress(socket.timeout, ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


# --- slow clients, deadlines, clients that leave --------------------------------------------------


def test_stalled_clients_do_not_starve_others():
    """The issue's attack: max_concurrent + max_queue (18) connections send headers and 100 bytes,
    then go silent. A normal request is answered meanwhile; the stalled ones get a 408 line once
    --read-timeout has passed."""
    with running(slow_app(Counting(0), max_concurrent=2, max_queue=16, read_timeout=6)) as url:
        stalled = [stalled_connection(url) for _ in range(18)]
        try:
            time.sleep(0.3)
            start = time.monotonic()
            response = upload(url, png_bytes(random_image(32, 32)), timeout=10)
            assert response.status_code == 200, response.text
            assert time.monotonic() - start < 5
            stalled[0].settimeout(15)
            answer = b""
            while chunk := stalled[0].recv(65536):  # until the server closes the connection
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
            assert b'"the request body did not arrive within 6 s (translate serve --read-timeout)' in answer
        finally:
            for sock in stalled:
                sock.close()


def test_large_and_empty_bodies_reach_the_application_whole():
    """The gate keeps a body (in memory up to 1 MiB, then in a temp file) and hands it on in
    pieces: a 3 MB upload is translated, an empty one is the form parser's 422, not a hang."""
    with running(slow_app(Counting(0), max_upload_bytes=8 * 2**20)) as url:
        noisy = png_bytes(random_image(1024, 1024, seed=2))
        assert len(noisy) > 3 * 2**20
        response = upload(url, noisy, timeout=60)
        assert response.status_code == 200 and cv2.imdecode(np.frombuffer(response.content, np.uint8),
                                                            cv2.IMREAD_COLOR).shape == (1024, 1024, 3)
        empty = httpx.post(f"{url}/v1/translate", content=b"", timeout=10,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert empty.status_code in (400, 415, 422) and list(empty.json()) == ["detail"]


def test_a_connection_without_headers_is_closed_after_the_read_timeout():
    with running(slow_app(Counting(0)), read_timeout=1) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            start = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - start < 5


def test_a_keep_alive_connection_stalled_inside_its_next_headers_is_closed():
    """uvicorn's keep-alive timer stops at the first byte of the next request: a client that then
    stalls inside the headers must still be closed after the read timeout."""
    with running(slow_app(Counting(0)), read_timeout=1) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while not re.search(rb"\r\n\r\n\{.*\}$", first, re.DOTALL):  # the whole JSON answer
                first += sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200"), first[:100]
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            start = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - start < 5


def test_a_client_that_disconnects_stops_its_work_at_the_next_tile():
    """A 256x256 image in 16 px tiles at stride 8 is 961 network calls (here 50 ms each, ~50 s):
    the client gives up after 1 s and the calls stop within a few seconds."""
    backend = Counting(0.05)
    with running(slow_app(backend)) as url:
        image = png_bytes(random_image(256, 256))
        client = threading.Thread(target=_upload_quietly, args=(url, image, "tile=16&tile_overlap=8", 1.5),
                                  daemon=True)
        client.start()
        assert backend.entered.wait(20)
        client.join(10)
        time.sleep(3)  # the next poll of the connection (250 ms), then the tile in progress
        calls = backend.calls
        time.sleep(2)
        assert backend.calls == calls, "the work went on after its client had gone"
        assert calls < 200
        assert upload(url, png_bytes(random_image(16, 16))).status_code == 200  # the model is free


def _upload_quietly(url, image, query, timeout):
    with contextlib.suppress(httpx.HTTPError):
        upload(url, image, query, timeout=timeout)


def test_queued_work_of_a_client_that_left_never_runs():
    """One slot: a request holds it, a second waits and its client leaves; when the slot frees up
    the second one's network never runs."""
    gate, calls = threading.Event(), []

    def backend(x):
        calls.append(x.shape)
        assert gate.wait(20)
        return x

    with running(slow_app(backend, max_concurrent=1)) as url:
        first = threading.Thread(target=upload, args=(url, png_bytes(random_image(20, 20))), daemon=True)
        first.start()
        deadline = time.monotonic() + 20
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        _upload_quietly(url, png_bytes(random_image(24, 24)), "", timeout=1)  # waits for the slot, then leaves
        time.sleep(1)
        gate.set()
        first.join(20)
        time.sleep(1)
        assert calls == [(1, 3, 20, 20)]


def test_the_compute_deadline_is_a_503_line():
    backend = Counting(0.05)
    with running(slow_app(backend, timeout=1.0)) as url:
        start = time.monotonic()
        response = upload(url, png_bytes(random_image(256, 256)), "tile=16&tile_overlap=8")
        assert time.monotonic() - start < 5
        assert detail(response, 503) == ("in.png: not done within this server's limit of 1 s (translate serve "
                                         "--timeout); send a smaller image, or tiles (tile=512) on a busy server")
        assert backend.calls < 100


# --- uvicorn's own answers ------------------------------------------------------------------------


def test_uvicorns_400s_are_json_lines_and_a_bad_chunked_body_is_not_a_bug(caplog):
    with caplog.at_level(logging.INFO), running(slow_app(Counting(0))) as url:
        long_url = raw_request(url, b"GET /healthz?" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        long_header = raw_request(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n")
        chunked = raw_request(url, b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                   b"Content-Type: multipart/form-data; boundary=b\r\n\r\n5\r\nhello\r\nZZZ\r\n")
        time.sleep(0.5)
    for answer in (long_url, long_header):
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head.lower()
        assert json.loads(body) == {"detail": "the request line or headers are longer than 16384 bytes; send a "
                                              "shorter URL"}
    head, body = chunked.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["detail"].startswith("not a valid HTTP/1.1 request")
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "a bug in translate serve" not in logged and "LocalProtocolError" not in logged
    assert not [r for r in caplog.records if r.exc_info]


def test_models_list_shows_file_names_not_paths(tmp_path):
    model = write_identity_onnx(tmp_path / "ident.onnx", source=str(tmp_path / "deep" / "secret" / "ident.onnx"))
    pth = tmp_path / "tiny.pth"
    save_official_generator(pth, "resnet_6blocks", ngf=8, seed=1)
    with running(create_app(load_models([str(model), str(pth)], device="cpu"))) as url:
        listed = httpx.get(f"{url}/v1/models", timeout=10).json()
    text = json.dumps(listed)
    assert str(tmp_path) not in text
    assert [m["card"]["source"] for m in listed["models"]] == ["ident.onnx", "tiny.pth"]


def test_docs_page_loads_its_scripts_from_this_server():
    with running(slow_app(Counting(0))) as url:
        page = httpx.get(f"{url}/docs", timeout=10).text
        scripts = [part.split('"')[1] for part in page.split("src=")[1:]] + \
                  [part.split('"')[1] for part in page.split("href=")[1:] if ".css" in part.split('"')[1]]
        assert scripts and all(s.startswith("/") for s in scripts), scripts
        for path in scripts:
            assert httpx.get(url + path, timeout=10).status_code == 200, path
        assert "/openapi.json" in page
        assert httpx.get(f"{url}/openapi.json", timeout=10).json()["info"]["title"] == "translate"


# --- the work budget ------------------------------------------------------------------------------


def test_work_budget_names_each_bound_and_its_flag():
    budget = Limits(max_pixels=1_000_000, max_output_pixels=2_000_000, max_memory_bytes=300 * 2**20).budget()
    sr = ModelCard(name="sr", task="sr", generator={"arch": "srresnet", "num_feat": 64}, multiple=1, scale=4)
    with pytest.raises(OverBudget, match=r"--max-pixels\)") as e:
        check_work(sr, (1001, 1000), budget=budget, source="a.png")
    assert (e.value.bound, e.value.status) == ("pixels", 413)
    with pytest.raises(OverBudget, match=r"would be 2000x2000 = 4000000 pixels, .*--max-output-pixels\)") as e:
        check_work(sr, (500, 500), budget=budget, source="a.png")
    assert e.value.bound == "output pixels"
    with pytest.raises(OverBudget, match=r"about .* MiB of memory, more than the limit of 300 MiB \(translate serve "
                                         r"--max-memory-mb\); use tile= 512") as e:
        check_work(sr, (300, 300), budget=budget, source="a.png")
    assert e.value.bound == "memory"
    check_work(sr, (300, 300), tile=64, tile_overlap=16, budget=budget, source="a.png")  # tiles bring it within
    with pytest.raises(OverBudget, match="more than half of --tile 16") as e:
        check_work(sr, (300, 300), tile=16, tile_overlap=15, budget=budget, source="a.png")
    assert (e.value.bound, e.value.status) == ("tiles", 422)


def test_sr_x4_on_a_4000px_upload_is_refused_before_decoding(tmp_path):
    """The issue's case: a 60 kB 4000x4000 PNG to a 4x model needs tens of GB; it is a 413 naming
    --max-output-pixels (default 4 x --max-pixels), and with that raised, --max-memory-mb."""
    sr = tmp_path / "sr.onnx"
    write_identity_onnx(sr, name="sr", task="sr", scale=1)
    models = load_models([str(sr)], device="cpu")
    translator = models["sr"].default
    translator.card = ModelCard(**{**translator.card.to_dict(), "scale": 4})
    data = png_bytes(np.zeros((4000, 4000, 3), np.uint8))
    assert len(data) < 200_000
    with running(create_app(models, Limits(max_memory_bytes=8 * 2**30))) as url:
        text = detail(upload(url, data), 413)
        assert text.startswith("in.png: the result would be 16000x16000 = 256000000 pixels") and \
            "(translate serve --max-output-pixels)" in text
    with running(create_app(models, Limits(max_output_pixels=1 << 30, max_memory_bytes=8 * 2**30))) as url:
        text = detail(upload(url, data), 413)
        assert "of memory, more than the limit of 8,192 MiB (translate serve --max-memory-mb)" in text


def hdr_bytes(height: int, width: int) -> bytes:
    return cv2.imencode(".hdr", np.zeros((height, width, 3), np.float32))[1].tobytes()


def test_header_sizes_come_from_a_parse_that_works():
    assert header_size(png_with_bad_text_crc(300, 200)) == (300, 200)
    assert header_size(hdr_bytes(30, 40)) == (30, 40)
    budget = WorkBudget(20_000_000, 20_000_000, 1 << 40, "--max-pixels", "--out", "--mem")
    unsized = cv2.imencode(".pam", np.zeros((20, 20, 3), np.uint8))[1].tobytes()
    assert header_size(unsized) is None  # a format neither Pillow nor the Radiance parse sizes
    with pytest.raises(OverBudget, match="its header gives no size") as e:
        decode_within(unsized, "a.pam", WorkBudget(1000, 1000, 1 << 40, "--max-pixels", "--out", "--mem"))
    assert e.value.status == 415
    assert decode_within(unsized, "a.pam", budget).size == (20, 20)  # 1248 bytes: at most ~10.3 Mpx


def _server(model: Path, *options: str):
    """`python -m translate serve MODEL --port 0 OPTIONS` in a subprocess, answering: (base URL, process)."""
    proc = subprocess.Popen([sys.executable, "-m", "translate", "serve", str(model), "--port", "0", "--device", "cpu",
                             *options], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, line = time.monotonic() + 90, ""
    while time.monotonic() < deadline and proc.poll() is None and not line:
        if select.select([proc.stdout], [], [], 1)[0]:
            line = proc.stdout.readline()
    if " on http://" not in line:
        proc.kill()
        pytest.fail(f"the server did not start: {line!r} {proc.stderr.read()[-2000:]}")
    url = line.split(" on ", 1)[1].split()[0].rstrip("/")
    while time.monotonic() < deadline:  # the line comes as uvicorn starts listening, not after
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        time.sleep(0.1)
    return url, proc


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure peak memory")
def test_header_less_3000px_files_are_refused_without_decoding(tmp_path):
    """The issue's bypass of --max-pixels: a 3000x3000 PNG with a bad tEXt CRC (25 kB) and a
    Radiance .hdr were decoded whole (+285 / +413 MB) before the check. Both are 413 now, and the
    server's peak memory grows by less than 50 MB while it refuses them."""
    url, proc = _server(write_identity_onnx(tmp_path / "ident.onnx"), "--max-pixels", "1000000")
    try:
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        for name, data in (("crc.png", png_with_bad_text_crc(3000, 3000)), ("big.hdr", hdr_bytes(3000, 3000))):
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset the peak to the current size
            before = _peak_rss_mb(proc.pid)
            text = detail(upload(url, data, name=name), 413)
            assert text.startswith(f"{name}: 3000x3000 is 9000000 pixels") and "limit of 1000000" in text
            assert _peak_rss_mb(proc.pid) - before < 50, name
    finally:
        proc.kill()
        proc.wait(10)


#: The two 503 lines of a decode that runs out of memory: in OpenCV's own allocation, or in numpy's copies
#: after it (which one depends on the memory the server process already holds, not on the file).
DECODE_OUT_OF_MEMORY = ("in.png: not enough memory to decode it (its header claims a huge image)",
                        "in.png: out of memory while decoding it; send a smaller image, or retry later")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA caps heap and mmap memory on Linux")
@pytest.mark.parametrize("side", [12000, 9000])
def test_running_out_of_memory_while_decoding_is_a_503_line(tmp_path, side):
    """A 144 / 81 Mpx PNG inside every bound the server was given, on a process capped at 1.5 GB:
    the decode fails for memory (in OpenCV, or in numpy's float copy, the issue's HTTP 500 with a
    traceback), which is a 503 line."""
    url, proc = _server(write_identity_onnx(tmp_path / "ident.onnx"), "--max-pixels", str(1 << 30),
                        "--max-output-pixels", str(1 << 30), "--max-memory-mb", "1000000")
    try:
        resource.prlimit(proc.pid, resource.RLIMIT_DATA, (1536 * 2**20, 1536 * 2**20))  # once it has started
        answer = upload(url, png_bytes(np.zeros((side, side, 3), np.uint8)), timeout=120)
        assert detail(answer, 503) in DECODE_OUT_OF_MEMORY
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err and "a bug in translate" not in err


# --- translate run and eval: the same budget -------------------------------------------------------


def test_run_skips_a_file_over_the_memory_budget_in_one_line(tmp_path, capsys):
    model = write_identity_onnx(tmp_path / "ident.onnx")
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "a_small.png", random_image(32, 32))
    write_png(folder / "b_large.png", random_image(600, 600))
    code = main(["run", str(model), str(folder), "-o", str(tmp_path / "out"), "--device", "cpu",
                 "--max-memory-mb", "50"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "skipped" in line]
    assert len(lines) == 1 and lines[0].startswith(f"translate: skipped {folder / 'b_large.png'}: would need about")
    assert "(translate run --max-memory-mb); use --tile 512" in lines[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_small_ident.png"]


def test_eval_has_tile_overlap_through_check_tiling(tmp_path, capsys):
    """`translate eval --tile 32` used to fail on the default overlap of 32, naming --tile-overlap,
    an option eval did not have."""
    for folder in ("rain", "norain"):
        (tmp_path / folder).mkdir()
        write_png(tmp_path / folder / "a.png", random_image(64, 64))
    model = write_identity_onnx(tmp_path / "derain.onnx", name="derain", task="derain", multiple=1)
    options = ["eval", "derain", "--model", str(model), "--input", str(tmp_path / "rain"), "--target",
               str(tmp_path / "norain"), "--device", "cpu", "--tile", "32"]
    assert main([*options, "--tile-overlap", "20"]) == 2
    assert "--tile-overlap 20 is more than half of --tile 32" in capsys.readouterr().err
    assert main([*options, "--tile-overlap", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["methods"]["model"]


def _black_clip(path: Path) -> Path:
    """A 2-frame 64x48 H.264 MP4 at ``path`` (skips without PyAV)."""
    av = pytest.importorskip("av", reason="videos need PyAV (pip install 'translate-gan[video]')")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode())
    return path


def test_run_refuses_a_video_whose_header_declares_frames_over_the_pixel_limit(tmp_path, capsys, monkeypatch):
    video = _black_clip(tmp_path / "clip.mp4")
    monkeypatch.setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "3000")  # read at each check; 64x48 is 3072
    code = main(["run", str(write_identity_onnx(tmp_path / "ident.onnx")), str(video), "-o", str(tmp_path / "out.mp4"),
                 "--device", "cpu"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and not (tmp_path / "out.mp4").exists()
    assert lines == [(f"translate: skipped {video}: its video stream declares 64x48 frames, more than the limit of 3000 "
                      f"pixels (OPENCV_IO_MAX_IMAGE_PIXELS); if they really are that large, set "
                      f"OPENCV_IO_MAX_IMAGE_PIXELS before starting translate")]


def test_run_checks_each_video_frames_work_before_decoding(tmp_path, capsys):
    """A video's frames are held to the same work budget as an image (here the memory bound), from
    the container's header, before any frame is decoded or the output is opened."""
    video = _black_clip(tmp_path / "clip.mp4")
    model = str(write_identity_onnx(tmp_path / "ident.onnx"))
    code = main(["run", model, str(video), "-o", str(tmp_path / "out.mp4"), "--device", "cpu", "--max-memory-mb", "0.01"])
    err = capsys.readouterr().err
    assert code == 1 and not (tmp_path / "out.mp4").exists()
    assert f"{video} (each frame): would need about" in err and "(translate run --max-memory-mb)" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert main(["run", model, str(video), "-o", str(tmp_path / "out.mp4"), "--device", "cpu"]) == 0
