"""Videos in `translate run`: clips made here with PyAV (and Pillow for animated GIF / WebP) go
through the image pipeline frame by frame; frame count, rate, size, rotation and audio are kept,
frames equal the image path's output (lossless codecs), bad files and stops write nothing."""

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV is not installed (pip install 'translate-gan[video]')")

import translate  # noqa: E402
from translate.cli import main  # noqa: E402
from translate.export.onnx import export_onnx  # noqa: E402
from translate.models.loading import load_model  # noqa: E402
from translate.run.video import Stopped, translate_video  # noqa: E402

from tests.helpers import random_image, save_official_generator, write_png  # noqa: E402
from tests.hostile_helpers import (digests, one_error_line, write_huge_canvas_webp,  # noqa: E402
                                   write_identity_onnx)

ROOT = Path(__file__).resolve().parents[2]
RATE = 24
SAMPLE_RATE = 8000


def frames_of(count=12, h=48, w=64, seed=0):
    """Smooth random frames (noise would make lossy codecs meaningless)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(count):
        phase = rng.uniform(0, 6.28, 3)
        planes = [127 + 120 * np.sin(xx / (5 + 3 * c) + yy / (7 + c) + phase[c] + i / 3) for c in range(3)]
        out.append(np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8))
    return out


def write_clip(path, frames, *, codec="ffv1", rate=RATE, audio=True, rotation=None):
    """A clip of ``frames`` (RGB uint8) with a 440 Hz AAC tone as long as the video; ffv1 stores
    RGB losslessly, libx264 as yuv420p."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=rate)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            t = np.arange(SAMPLE_RATE * len(frames) // rate) / SAMPLE_RATE
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, tone.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="flt",
                                                   layout="mono")
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return path


def read_clip(path):
    """(RGB frames, first frame's rotation, average rate, audio packets as (bytes, seconds))."""
    with av.open(str(path)) as clip:
        stream = clip.streams.video[0]
        rate = stream.average_rate
        decoded = list(clip.decode(stream))
    with av.open(str(path)) as clip:
        audio = [(bytes(p), float(p.duration * p.time_base)) for p in clip.demux(*clip.streams.audio) if p.size]
    return [f.to_ndarray(format="rgb24") for f in decoded], decoded[0].rotation, rate, audio


def levels(a, b):
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video_models")
    pth = folder / "m.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance", seed=1)
    net, card = load_model(str(pth))
    onnx_file = export_onnx(net, card, folder / "m.onnx", opset=17).path  # the quick exporter
    return {"pth": str(pth), "onnx": str(onnx_file), "id": str(write_identity_onnx(folder / "id.onnx")),
            "torch": translate.load(str(pth), device="cpu")}


def run(*args):
    return main([str(a) for a in args] + ["--device", "cpu"])


def test_mp4_keeps_frame_count_rate_size_rotation_and_audio(models, tmp_path, capsys):
    src = write_clip(tmp_path / "clip.mp4", frames_of(), codec="libx264", rotation=90)
    before = digests(src)
    assert run("run", models["pth"], src) == 0
    out = tmp_path / "clip_m.mp4"  # named like an image output, in the input's container
    frames, rotation, rate, audio = read_clip(out)
    in_frames, _, _, in_audio = read_clip(src)
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3) and rate == RATE and rotation == 90
    assert audio == in_audio  # the audio packets are copied unchanged
    assert sum(seconds for _, seconds in audio) == pytest.approx(12 / RATE, abs=0.13)  # AAC frames of 1024 samples
    assert levels(frames[0], in_frames[0]) > 10  # the model did something
    assert digests(src) == before
    assert "1 translated, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("options, tolerance", [
    ([], 0),
    (["--batch", "3", "--tile", "32", "--tile-overlap", "8"], 0),  # tiled: frame by frame, 3 tiles a call
    (["--batch", "4"], 1),  # 4 frames a call: float rounding of a batched convolution, at most 1 level
])
def test_frames_equal_the_image_path(models, tmp_path, options, tolerance):
    """A lossless codec in and out: each frame is what `translate run` gives for that frame as an
    image, batched or tiled, and the rotated clip's frames were seen upright."""
    frames = frames_of(7, 40, 56)
    src = write_clip(tmp_path / "in.mkv", frames, rotation=-90)
    out = tmp_path / "out.mkv"
    assert run("run", models["pth"], src, "-o", out, "--codec", "ffv1", *options) == 0
    got, rotation, rate, audio = read_clip(out)
    tile = dict(tile=32, tile_overlap=8) if "--tile" in options else {}
    expected = [np.rot90(models["torch"](np.ascontiguousarray(np.rot90(f, -1)), **tile), 1) for f in frames]
    assert rotation == -90 and rate == RATE and len(audio) == len(read_clip(src)[3])
    assert len(got) == 7 and max(levels(g, e) for g, e in zip(got, expected)) <= tolerance


def test_super_resolution_scales_the_video_and_inpainting_fills_every_frame(tmp_path):
    frames = frames_of(3, 24, 32)
    src = write_clip(tmp_path / "small.mkv", frames, audio=False)
    assert run("run", "sr-x4", src, "-o", tmp_path / "big.mkv", "--codec", "ffv1") == 0
    got = read_clip(tmp_path / "big.mkv")[0]
    sr = translate.load("sr-x4", device="cpu")
    assert [g.shape for g in got] == [(96, 128, 3)] * 3 and levels(got[2], sr(frames[2])) <= 1

    mask = np.zeros((24, 32), np.uint8)
    mask[8:16, 10:20] = 255
    write_png(tmp_path / "hole.png", mask)
    assert run("run", "inpaint", src, "-o", tmp_path / "filled.mkv", "--codec", "ffv1", "--mask",
               tmp_path / "hole.png") == 0
    filled = read_clip(tmp_path / "filled.mkv")[0]
    inpaint = translate.load("inpaint", device="cpu")
    for g, f in zip(filled, frames):
        assert np.array_equal(g[mask == 0], f[mask == 0]) and levels(g, inpaint(f, mask=mask)) <= 1


def test_animated_gif_and_webp_keep_frame_durations_and_transparency(models, tmp_path):
    from PIL import Image as PILImage

    rgba = []
    for i, array in enumerate(frames_of(3, 32, 40)):
        alpha = np.full((32, 40), 255, np.uint8)
        alpha[:, : 10 + 5 * i] = 0
        rgba.append(PILImage.fromarray(np.dstack([array, alpha]), "RGBA"))
    durations = [100, 200, 300]
    for suffix in (".gif", ".webp"):
        src = tmp_path / f"anim{suffix}"
        rgba[0].save(src, save_all=True, append_images=rgba[1:], duration=durations, loop=0, disposal=2,
                     **({"lossless": True} if suffix == ".webp" else {}))
        assert run("run", models["id"], src) == 0
        with PILImage.open(tmp_path / f"anim_id{suffix}") as out:
            assert out.n_frames == 3 and out.size == (40, 32)
            for i in range(3):
                out.seek(i)
                got = np.asarray(out.convert("RGBA"))  # WebP sets the duration when the frame is loaded
                assert out.info["duration"] == durations[i]
                assert np.array_equal(got[..., 3] > 127, np.asarray(rgba[i])[..., 3] > 127)
                opaque = got[..., 3] > 127
                assert np.abs(got[..., :3].astype(int) - np.asarray(rgba[i])[..., :3])[opaque].mean() < 8


PILLOW_BOMB_LIMIT = 89_478_485  # Pillow's default PIL.Image.MAX_IMAGE_PIXELS (it warns above, raises above twice)


@pytest.mark.parametrize("side, limit, source", [
    (16383, None, "PIL.Image.MAX_IMAGE_PIXELS"),  # Pillow raised DecompressionBombError (a traceback)
    (10000, None, "PIL.Image.MAX_IMAGE_PIXELS"),  # Pillow printed DecompressionBombWarning, then decoded 9 GB
    (2000, 1_000_000, "OPENCV_IO_MAX_IMAGE_PIXELS"),  # the project's pixel limit, as for still images
])
def test_animated_webp_with_a_huge_canvas_is_one_line(models, tmp_path, capfd, monkeypatch, side, limit, source):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", PILLOW_BOMB_LIMIT)
    if limit:
        monkeypatch.setenv("OPENCV_IO_MAX_IMAGE_PIXELS", str(limit))
    src = write_huge_canvas_webp(tmp_path / "big.webp", side)
    assert src.stat().st_size < 200
    before = digests(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = run("run", models["id"], src)
    out, err = capfd.readouterr()
    assert code == 1 and [str(w.message) for w in caught] == []
    assert one_error_line(err) == (f"translate: skipped {src}: its canvas is {side}x{side} = {side * side} pixels, "
                                   f"more than the limit of {limit or PILLOW_BOMB_LIMIT} ({source}; damaged, or a "
                                   f"decompression bomb)")
    assert "0 translated, 1 failed" in out and digests(tmp_path) == before  # no output, input unchanged


def test_folder_of_videos_is_named_like_a_folder_of_images(models, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    write_clip(folder / "a.MP4", frames_of(2), codec="libx264", audio=False)
    write_clip(folder / "b.mkv", frames_of(3), audio=False)
    write_png(folder / "c.png", random_image(20, 24))
    (folder / "notes.txt").write_text("not a video")
    assert run("run", models["onnx"], folder) == 0
    produced = sorted(p.name for p in (tmp_path / "clips_m").iterdir())
    assert produced == ["a_m.mp4", "b_m.mkv", "c_m.png"]
    assert len(read_clip(tmp_path / "clips_m" / "b_m.mkv")[0]) == 3


def test_odd_sizes_are_padded_for_h264_and_said(models, tmp_path, capsys):
    src = write_clip(tmp_path / "odd.mkv", frames_of(2, 33, 45), audio=False)
    assert run("run", models["id"], src, "-o", tmp_path / "odd.mp4") == 0
    assert read_clip(tmp_path / "odd.mp4")[0][0].shape == (34, 46, 3)
    assert "45x33 padded to 46x34" in capsys.readouterr().err
    assert run("run", models["id"], src, "-o", tmp_path / "exact.mkv", "--codec", "ffv1") == 0
    assert read_clip(tmp_path / "exact.mkv")[0][0].shape == (33, 45, 3)


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8, "truncated"])
def test_corrupt_video_is_one_line_naming_the_file(models, tmp_path, capfd, content):
    src = tmp_path / "bad.mp4"
    if content == "truncated":
        whole = write_clip(tmp_path / "whole.mp4", frames_of(4), codec="libx264").read_bytes()
        content = whole[: len(whole) // 2]
    src.write_bytes(content)
    before = digests(src)
    assert run("run", models["onnx"], src, "-o", tmp_path / "out.mp4") == 1
    line = one_error_line(capfd.readouterr().err)
    assert "bad.mp4" in line and ("video" in line or "empty" in line)
    assert digests(src) == before and sorted(p.name for p in tmp_path.iterdir() if p.name != "whole.mp4") == ["bad.mp4"]


@pytest.mark.parametrize("args, message", [
    (["-o", "{dir}/out.png"], "cannot write a video as '.png'"),
    (["-o", "{dir}/clip.mkv"], "would overwrite an input"),
    (["--codec", "ffv1", "--crf", "10"], "ffv1 has no CRF"),
    (["--crf", "99"], "--crf 99: libx264 takes 0 (best) to 51"),
    (["--crf", "-1", "-o", "{dir}/out.webm"], "--crf -1: libvpx-vp9 takes 0 (best) to 63"),
    (["--codec", "no_such_codec"], "not a video encoder"),
    (["--codec", "ffv1", "-o", "{dir}/out.webm"], "a .webm file cannot hold it"),
    (["--batch", "0"], "--batch must be >= 1"),
])
def test_bad_video_options(models, tmp_path, capsys, args, message):
    src = write_clip(tmp_path / "clip.mkv", frames_of(2), audio=False)
    before = digests(src)
    assert run("run", models["onnx"], src, *[a.format(dir=tmp_path) for a in args]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert digests(src) == before and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"]


def test_without_pyav_a_video_is_one_line_saying_what_to_install(models, tmp_path, capsys, monkeypatch):
    src = write_clip(tmp_path / "clip.mkv", frames_of(2), audio=False)
    write_png(tmp_path / "still.png", random_image(20, 24))
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` fails as if it were not installed
    assert run("run", models["onnx"], tmp_path) == 1  # the image of the folder is still translated
    err = capsys.readouterr().err
    assert "clip.mkv" in one_error_line(err) and "pip install 'translate-gan[video]'" in err
    assert sorted(p.name for p in (tmp_path.parent / f"{tmp_path.name}_m").iterdir()) == ["still_m.png"]


def test_a_stop_between_batches_writes_nothing(models, tmp_path):
    src = write_clip(tmp_path / "clip.mp4", frames_of(6), codec="libx264")
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 2  # after two batches of frames

    with pytest.raises(Stopped):
        translate_video(models["torch"], src, tmp_path / "out.mp4", batch=2, stop=stop, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no output, no temp file


def test_sigterm_leaves_no_output_and_onnx_video_needs_no_torch(models, tmp_path):
    """A run of an .onnx model on a video imports no torch; SIGTERM in the middle of the clip
    exits 130 with one line and leaves neither the output nor its temp file."""
    src = write_clip(tmp_path / "clip.mkv", frames_of(3), audio=False)
    out = tmp_path / "out" / "clip.mkv"
    code = ("import sys\nfrom translate.cli import main\n"
            f"assert main(['run', {models['onnx']!r}, {str(src)!r}, '-o', {str(out)!r}, '--device', 'cpu', "
            "'--codec', 'ffv1']) == 0\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(levels(g, models["torch"](f)) <= 1 for g, f in zip(read_clip(out)[0], frames_of(3)))

    long = write_clip(tmp_path / "long.mkv", frames_of(400, 96, 128), audio=False)
    target = tmp_path / "stopped" / "long_id.mkv"
    # tiles of 16 px make every frame take a while, so the signal lands in the middle of the clip
    proc = subprocess.Popen([sys.executable, "-m", "translate", "run", models["id"], str(long), "-o", str(target),
                             "--tile", "16", "--tile-overlap", "4", "--device", "cpu"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (target.parent.is_dir() and any(target.parent.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert one_error_line(stderr.decode()).startswith("translate: stopped by SIGTERM after 0 of 1 files")
    assert list(target.parent.iterdir()) == []


def test_outscale_resizes_every_frame_as_it_resizes_an_image(tmp_path):
    frames = frames_of(3, 24, 32)
    src = write_clip(tmp_path / "small.mkv", frames, audio=False)
    assert run("run", "sr-x4", src, "-o", tmp_path / "x2.mkv", "--codec", "ffv1", "--outscale", "2") == 0
    got = read_clip(tmp_path / "x2.mkv")[0]
    sr = translate.load("sr-x4", device="cpu")
    assert [g.shape for g in got] == [(48, 64, 3)] * 3 and levels(got[1], sr(frames[1], outscale=2)) <= 1
