"""`translate serve MODEL [MODEL ...]`: the models as a local HTTP service with a browser page."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
import threading

from translate.errors import TranslateError, printable

DEFAULT_PORT = 7000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve models over HTTP, with a browser page",
        description="Load the models once and serve them over HTTP on this machine: POST /v1/translate "
                    "(multipart image in, PNG / JPEG out, the options of `translate run`), GET /v1/models, "
                    "GET /healthz, a browser page at / and the API documentation at /docs. Needs the "
                    "serve extra: pip install 'translate-gan[serve]'.")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="zoo name, checkpoint / run folder, .pth, .safetensors or .onnx file (as for "
                        "`translate run`); served under the name `translate run` gives its outputs")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 exposes the "
                        "server, which has no authentication, to the network)")
    p.add_argument("--port", default=str(DEFAULT_PORT), help=f"TCP port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda (or tensorrt for .onnx)")
    p.add_argument("--max-upload-mb", default="25", help="largest request body in MiB (default 25); more is a 413")
    p.add_argument("--max-pixels", default=str(4096 * 4096),
                   help="largest image in pixels, width x height (default 16777216 = 4096x4096); more is a 413")
    p.add_argument("--max-output-pixels", default=None, metavar="N",
                   help="largest result in pixels, the input times the model's scale squared (default 4 x "
                        "--max-pixels); more is a 413, before the upload is decoded")
    p.add_argument("--max-memory-mb", default=None, metavar="MB",
                   help="largest estimated peak memory of one request in MiB (default: this machine's memory / "
                        "--max-concurrent); more is a 413 that suggests tile=512, before the upload is decoded")
    p.add_argument("--timeout", default="300", metavar="S",
                   help="seconds from a request's body arriving to its answer, waiting included (default 300); "
                        "checked before each tile, so an untiled image finishes its one network call; then 503")
    p.add_argument("--read-timeout", default="60", metavar="S",
                   help="seconds a client has to send the request line and headers, and then the whole body "
                        "(default 60); a slow or stalled client gets a 408 and holds no slot meanwhile")
    p.add_argument("--max-concurrent", default="2",
                   help="requests processed at once (default 2; each model translates one at a time)")
    p.add_argument("--max-queue", default="16",
                   help="requests waiting for a slot (default 16); one more in flight is answered 429")
    p.set_defaults(func=serve)


def _number(value: str, option: str, low: float, high: float, kind: type = int) -> float:
    """``value`` of ``option`` as ``kind`` within [low, high], or a one-line TranslateError."""
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        def show(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else str(x)

        raise TranslateError(f"{option} {value}: must be a{'n integer' if kind is int else ' number'} "
                             f"from {show(low)} to {show(high)}")
    return number


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), or a one-line TranslateError (busy port, bad host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise TranslateError(f"--host {host}: not an address of this machine ({getattr(e, 'strerror', None) or e})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise TranslateError(f"--port {port}: {host}:{port} is already in use by another program; "
                                 f"choose another port with --port (0 = any free port)") from None
        if e.errno == errno.EACCES:
            raise TranslateError(f"--port {port}: permission denied (ports below 1024 need privileges); "
                                 f"use a port from 1024 to 65535") from None
        raise TranslateError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    return sock


def serve(args: argparse.Namespace) -> int:
    from translate.run.budget import machine_memory

    port = int(_number(args.port, "--port", 0, 65535))
    max_pixels = int(_number(args.max_pixels, "--max-pixels", 1, 1 << 30))  # OpenCV decodes up to 2^30
    max_concurrent = int(_number(args.max_concurrent, "--max-concurrent", 1, 1024))
    machine = machine_memory() or 1 << 62
    limits_given = dict(
        max_upload_bytes=int(_number(args.max_upload_mb, "--max-upload-mb", 0.001, 1 << 20, float) * 2**20),
        max_pixels=max_pixels,
        max_output_pixels=4 * max_pixels if args.max_output_pixels is None
        else int(_number(args.max_output_pixels, "--max-output-pixels", 1, 1 << 30)),
        max_memory_bytes=machine // max_concurrent if args.max_memory_mb is None
        else int(_number(args.max_memory_mb, "--max-memory-mb", 1, 1 << 40, float) * 2**20),
        timeout=_number(args.timeout, "--timeout", 0.1, 86_400, float),
        read_timeout=_number(args.read_timeout, "--read-timeout", 0.1, 3_600, float),
        max_concurrent=max_concurrent,
        max_queue=int(_number(args.max_queue, "--max-queue", 0, 100_000)),
    )
    try:
        import fastapi  # noqa: F401
        import PIL  # noqa: F401  (reads upload headers)
        import fastapi_offline  # noqa: F401  (the /docs page's files, served without a CDN)
        import h11  # noqa: F401  (uvicorn's HTTP/1.1 parser, whose 400s are answered as JSON)
        import python_multipart  # noqa: F401  (FastAPI's form parser)
        import uvicorn
    except ImportError as e:
        raise TranslateError(f"translate serve needs {e.name}: pip install 'translate-gan[serve]' "
                             f"(FastAPI, uvicorn, python-multipart, Pillow, fastapi-offline)") from None
    from PIL import Image as PILImage

    from translate.run.serve import Limits, create_app, http_protocol, load_models

    limits = Limits(**limits_given)
    # Upload headers are read by Pillow (translate.imageio.declared_size) and checked against
    # --max-pixels; Pillow's own bomb limit (twice this) must not be the lower one.
    PILImage.MAX_IMAGE_PIXELS = max(PILImage.MAX_IMAGE_PIXELS or 0, limits.max_pixels // 2 + 1)
    sock = _bind(args.host, port)  # a busy port fails now, not after loading the models
    try:
        models = load_models(args.models, device=args.device)
        app = create_app(models, limits)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        if threading.current_thread() is threading.main_thread():
            # uvicorn stops on SIGINT even where the parent left SIGINT ignored (a background job of a
            # script, a pytest-xdist worker); so does the rest of the command: the "Ctrl-C stops" printed
            # below holds from that moment (not only once uvicorn's handler is in), and the exit is the
            # usual "translate: interrupted" (130), not a silent 0 after uvicorn re-raises an ignored signal.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        print(printable(f"translate serve: {', '.join(models)} on http://{shown}:{port}/ "
                        f"(API docs: /docs; Ctrl-C stops)"), flush=True)
        if not _is_loopback(host):
            print(printable(f"translate serve: warning: listening on {host}, reachable from other machines; "
                            f"the server has no authentication"), file=sys.stderr, flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                http=http_protocol(limits.read_timeout))
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
