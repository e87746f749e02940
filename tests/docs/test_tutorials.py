"""Every ```bash block of docs/tutorials/*.md runs, in order, on tiny real data, so a tutorial that stops
working fails CI.

The markers a tutorial page may hold (HTML comments, invisible on the site; docs/contributing.md):

- ``<!-- test-data: NAME=SOURCE ... -->``: files made in the page's working folder before its first block.
  SOURCE is ``FOLDER`` or ``FOLDER[a:b]`` under ../shared/data (its sorted images, or a slice of them),
  one image file there, ``repo:PATH`` (a file of this repository), ``video:FOLDER`` (an MP4 of that
  folder's first images) or ``upscaler:ESRGAN`` (a tiny spandrel-compatible ESRGAN ``.pth``).
  Images are shrunk so that their longer side is at most ``MAX_SIDE`` px.
- ``<!-- test: OPTIONS -->`` before a block: OPTIONS are appended to each command of the block.
- ``<!-- test: background -->``: the block is started in the background and stopped after the page.
- ``<!-- test: skip because REASON -->``: the block is not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
MAX_SIDE = 128
BLOCK_TIMEOUT_S = 240
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}

BLOCK = re.compile(r"(?:<!--\s*test:(?P<marker>.*?)-->\s*\n)?```bash\n(?P<code>.*?)\n```", re.DOTALL)
DATA = re.compile(r"<!--\s*test-data:(.*?)-->", re.DOTALL)


@dataclass
class Block:
    code: str
    marker: str  # "" when the block has none

    @property
    def skip_reason(self) -> str | None:
        m = re.fullmatch(r"skip because (.+)", self.marker)
        return m.group(1) if m else None

    @property
    def background(self) -> bool:
        return self.marker == "background"

    def script(self) -> str:
        """The block as bash runs it: with the marker's options appended to each command."""
        if not self.marker or self.background:
            return self.code
        commands = re.sub(r"\s*\\\n\s*", " ", self.code).split("\n")  # one logical command a line
        out = []
        for line in commands:
            command, hash_, comment = line.partition("  #")  # a trailing comment stays a comment
            out.append(f"{command.rstrip()} {self.marker}" + (f"  #{comment}" if hash_ else "")
                       if command.strip() and not command.lstrip().startswith("#") else line)
        return "\n".join(out)


def parse(page: Path) -> tuple[list[tuple[str, str]], list[Block]]:
    """A tutorial's test-data entries (NAME, SOURCE) and its bash blocks, in page order."""
    text = page.read_text()
    data = [tuple(item.split("=", 1)) for m in DATA.finditer(text) for item in m.group(1).split()]
    blocks = [Block(m.group("code"), (m.group("marker") or "").strip()) for m in BLOCK.finditer(text)]
    return data, blocks


def shrunk(src: Path, dst: Path) -> None:
    """Copy an image, shrunk (area averaging) so that its longer side is at most MAX_SIDE px."""
    image = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"cannot read {src}"
    scale = MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    dst.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(dst.with_suffix(".png") if src.suffix.lower() == ".bmp" else dst), image)


def images(source: str) -> list[Path]:
    """The sorted images of a ../shared/data folder, or a slice of them (``FOLDER[a:b]``)."""
    m = re.fullmatch(r"(.+?)(?:\[(\d*):(\d*)\])?", source)
    folder = SHARED_DATA / m.group(1)
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    start, stop = (int(m.group(i)) if m.group(i) else None for i in (2, 3))
    return found[start:stop]


def write_video(frames: list[Path], dst: Path) -> None:
    """A 6-frame H.264 MP4 (64x64, 5 fps) of the given images, made with PyAV."""
    av = pytest.importorskip("av", reason="the video tutorial needs PyAV (the video extra)")
    with av.open(str(dst), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(6):
            rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(frames[i % len(frames)])), (64, 64)), cv2.COLOR_BGR2RGB)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
        container.mux(stream.encode())


def write_upscaler(dst: Path) -> None:
    """A tiny ESRGAN (4x, 8 filters, 1 block, random weights) saved as a plain state dict, as shared online."""
    pytest.importorskip("spandrel", reason="the community tutorial needs spandrel (the community extra)")
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    torch.save({k: v.contiguous() for k, v in net.state_dict().items()}, dst)


def make_data(data: list[tuple[str, str]], work: Path) -> None:
    for name, source in data:
        dst = work / name
        if source.startswith("repo:"):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / source[5:], dst)
        elif source.startswith("video:"):
            dst.parent.mkdir(parents=True, exist_ok=True)
            write_video(images(source[6:]), dst)
        elif source == "upscaler:ESRGAN":
            dst.parent.mkdir(parents=True, exist_ok=True)
            write_upscaler(dst)
        elif (SHARED_DATA / source).is_file():
            shrunk(SHARED_DATA / source, dst)
        else:
            files = images(source)
            assert files, f"no images for {name}={source}"
            for f in files:
                shrunk(f, dst / f.name)


def environment() -> dict[str, str]:
    """The reader's shell: the `translate` and `python` of this environment first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(page, tmp_path, shared_data):
    data, blocks = parse(page)
    assert blocks, f"{page.name} has no bash block"
    if any(re.search(r"^curl |\| curl ", b.code, re.MULTILINE) for b in blocks) and not shutil.which("curl"):
        pytest.skip(f"{page.name} calls curl, which is not installed here")
    make_data(data, tmp_path)
    env, background, skipped = environment(), [], []
    logs_open = contextlib.ExitStack()
    try:
        for i, block in enumerate(blocks, 1):
            if block.skip_reason:
                skipped.append(f"block {i}: {block.skip_reason}")
                continue
            if block.background:
                log = logs_open.enter_context(open(tmp_path / f".background-{i}.log", "w"))
                background.append((subprocess.Popen(["bash", "-c", block.code], cwd=tmp_path, env=env,
                                                    stdout=log, stderr=subprocess.STDOUT,
                                                    start_new_session=True), log))
                continue
            started = time.monotonic()
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.script()], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S, check=False)
            logs = "".join(f"\n--- background log:\n{Path(lg.name).read_text()[-2000:]}" for _, lg in background)
            assert done.returncode == 0, (
                f"{page.name}, block {i} failed (exit {done.returncode}, {time.monotonic() - started:.1f} s):\n"
                f"$ {block.script()}\n--- stdout:\n{done.stdout[-3000:]}\n--- stderr:\n{done.stderr[-3000:]}{logs}")
    finally:
        for process, _ in background:
            stop(process)
        logs_open.close()
    if skipped:
        print(f"{page.name}: not run: " + "; ".join(skipped))


def test_markers_are_understood():
    """A typo in a marker would silently drop a block from the test: every marker must be one of the forms."""
    for page in TUTORIALS:
        text = page.read_text()
        for m in re.finditer(r"<!--\s*(test[\w-]*):", text):
            assert m.group(1) in ("test", "test-data"), f"{page.name}: unknown marker {m.group(1)!r}"
        for m in re.finditer(r"<!--\s*test:(.*?)-->\s*\n(.{0,8})", text, re.DOTALL):
            assert m.group(2).startswith("```bash"), f"{page.name}: marker {m.group(1).strip()!r} is not before a bash block"
        data, _ = parse(page)
        for name, source in data:
            assert not os.path.isabs(name) and ".." not in Path(name).parts, f"{page.name}: {name} leaves the folder"
            assert shlex.quote(name) == name, f"{page.name}: {name!r} needs quoting"


def test_appended_options_reach_every_command():
    block = Block("translate convert check pairs --layout aligned\ntranslate train pix2pix --data pairs \\\n"
                  "    --out runs/a  # a comment", "--max-iters 2")
    assert block.script().split("\n") == [
        "translate convert check pairs --layout aligned --max-iters 2",
        "translate train pix2pix --data pairs --out runs/a --max-iters 2  # a comment"]
