"""`translate serve`: models as a local HTTP service (FastAPI) with a browser page at ``/``.

The service is a thin layer over what `translate run` uses: models are resolved and loaded by
:func:`translate.run.inference.load` (so an ``.onnx`` file is served by the torch-free runtime),
uploads are decoded by :func:`translate.imageio.decode_image` (the decoder of
:func:`~translate.imageio.read_image`) within the work budget `translate run` uses, translated by
:meth:`Translator.translate <translate.run.pipeline.Translator.translate>` and encoded by
:func:`translate.imageio.encode_image`, so a response holds the same bytes `translate run` writes
for the same image and options.

Endpoints::

    POST /v1/translate?model=NAME[&direction=AtoB|BtoA][&tile=N&tile_overlap=M][&format=png|jpeg]
         multipart/form-data: image=<file> [mask=<file>, inpainting models]  -> image/png | image/jpeg
    GET  /v1/models     the served models and their cards (JSON)
    GET  /healthz       {"status": "ok", ...}
    GET  /              the browser page;  GET /docs, /redoc: the OpenAPI documentation (its
                        scripts served from here, by fastapi-offline: it works offline)

Requests are bounded by :class:`Limits`, each bound named with its flag when it refuses: the body
(its size, from ``Content-Length`` before anything is read and counted while it is read, and the
time it takes to arrive: a slow client gets 408 and holds no slot meanwhile), the work (input
pixels from the decoder's header read, output pixels, tiles and estimated peak memory, by
:func:`translate.run.budget.decode_within` before the upload is decoded), the time (a deadline from
the body's arrival to the answer, checked while waiting and before each tile; a client that
disconnects stops its work the same way) and the requests in flight (``max_concurrent`` being
translated plus ``max_queue`` waiting; one more is answered 429 once its body has arrived). Each
model translates one request at a time (a lock per model); decoding and encoding of other
requests overlap with it. A user error is a 4xx with ``{"detail": "one line"}``, the text
`translate run` prints for the same input: 408 body too slow, 413 too large (bytes, pixels,
memory), 415 not a readable image (or not multipart), 422 a bad option / model / mask or tiles
that do not fit the image, 429 too many requests, 503 out of memory or past the deadline; even
uvicorn's own 400s are JSON lines (:func:`http_protocol`). Nothing here imports torch.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from translate.errors import TranslateError, printable
from translate.imageio import DecodeMemoryError, PixelLimitError, check_format, encode_image
from translate.run.budget import OverBudget, WorkBudget, decode_within
from translate.run.pipeline import Interrupted, Translator, mask_hole
from translate.version import __version__

log = logging.getLogger("translate.serve")

MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
TRANSLATE_PATH = "/v1/translate"


@dataclass(frozen=True)
class Limits:
    """What one server accepts: ``max_upload_bytes`` per request body, read within
    ``read_timeout`` seconds; ``max_pixels`` per decoded image, ``max_output_pixels`` per result
    and ``max_memory_bytes`` of estimated peak memory per request (:mod:`translate.run.budget`);
    ``timeout`` seconds from the body's arrival to the answer (waiting included; checked before
    each tile); ``max_concurrent`` requests processed at once and ``max_queue`` more waiting."""

    max_upload_bytes: int = 25 * 2**20
    max_pixels: int = 4096 * 4096
    max_output_pixels: int = 4 * 4096 * 4096
    max_memory_bytes: int = 8 * 2**30
    timeout: float = 300.0
    read_timeout: float = 60.0
    max_concurrent: int = 2
    max_queue: int = 16

    def budget(self) -> WorkBudget:
        """The work budget of one request, its bounds named by the flags that set them."""
        return WorkBudget(self.max_pixels, self.max_output_pixels, self.max_memory_bytes,
                          "translate serve --max-pixels", "translate serve --max-output-pixels",
                          "translate serve --max-memory-mb", tile_flag="tile=", outscale_flag=None)


@dataclass
class ServedModel:
    """One served model: its name in the API and a translator per direction (the default first).

    A `translate train` CycleGAN checkpoint holds both generators and is served in both
    directions; every other model translates one way (its card's ``direction``).
    """

    name: str
    spec: str
    translators: dict[str, Translator]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def default(self) -> Translator:
        return next(iter(self.translators.values()))

    def pick(self, direction: str | None) -> Translator:
        """The translator for ``direction`` (None: the default); :class:`TranslateError` if absent."""
        if direction is None:
            return self.default
        if direction not in self.translators:
            raise TranslateError(f"model {self.name} translates {' and '.join(self.translators)} only; "
                                 f"it has no {direction} generator")
        return self.translators[direction]

    def describe(self) -> dict[str, Any]:
        """The JSON object ``GET /v1/models`` lists for this model. A card's ``source`` or ``file``
        that is a path on this machine shows its file name only: where the server keeps its files
        is not the clients' business."""
        translator = self.default
        card = translator.card.to_dict()
        for key in ("source", "file"):
            value = card.get(key)
            if isinstance(value, str) and "://" not in value and re.search(r"[/\\]", value):
                card[key] = Path(value.replace("\\", "/")).name
        return {"name": self.name, "directions": list(self.translators), "needs_mask": translator.needs_mask,
                "runtime": "onnxruntime" if str(self.spec).lower().endswith(".onnx") else "pytorch",
                "device": translator.device, "card": card}


def load_models(specs: Sequence[str], device: str = "auto") -> dict[str, ServedModel]:
    """Load every MODEL spec once (as `translate run` resolves it), keyed by its name in the API.

    The name is the one `translate run` puts in output file names (``facades-label2photo``,
    ``horse2zebra`` for ``cyclegan/horse2zebra``, ``m`` for ``m.onnx``); two specs with one name
    raise :class:`TranslateError`. A CycleGAN checkpoint with both generators is loaded in both
    directions.
    """
    from translate.models.cards import model_tag
    from translate.models.loading import DIRECTIONS
    from translate.run.inference import load

    models: dict[str, ServedModel] = {}
    for spec in specs:
        name = model_tag(spec)
        if name in models:
            raise TranslateError(f"{spec}: another model is already served as '{name}' ({models[name].spec}); "
                                 f"serve one of them, or rename a file")
        first = load(spec, device=device)
        translators = {first.card.direction: first}
        # a file may hold a generator per direction (a CycleGAN run): ask for the other one; the card,
        # not the task's name, says whether it came back
        if first.card.direction in DIRECTIONS and not spec.lower().endswith(".onnx"):
            other = next(d for d in DIRECTIONS if d != first.card.direction)
            try:
                second = load(spec, device=device, direction=other)
            except TranslateError:  # a zoo CycleGAN model translates one way only
                second = None
            # files without generators per direction ignore `direction`: the same card comes back
            if second is not None and second.card.direction == other:
                translators[other] = second
        models[name] = ServedModel(name, spec, translators)
    return models


def output_format(fmt: str | None, accept: str | None) -> str:
    """The output suffix: ``fmt`` (png / jpg / jpeg) when given, else JPEG when the Accept header
    asks for image/jpeg and not image/png, else PNG."""
    if fmt:
        return check_format(fmt)
    accept = (accept or "").lower()
    return ".jpg" if "image/jpeg" in accept and "image/png" not in accept else ".png"


def _upload_name(filename: str | None, default: str) -> str:
    """The base name of an uploaded file (never a path of the client's), for messages."""
    name = Path((filename or "").replace("\\", "/")).name
    return name or default


def _download_name(upload: str, model: str, ext: str) -> str:
    """``<stem>_<model><ext>``, the name `translate run` gives the output, made header-safe."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload).stem)[:120] or "image"
    return f"{stem}_{model}{ext}"


def _error(status: int, message: object) -> HTTPException:
    return HTTPException(status_code=status, detail=printable(message))


def _out_of_memory(name: str) -> HTTPException:
    return _error(503, f"{name}: out of memory; send a smaller image or process it in tiles, e.g. tile=512")


def _decode_within(data: bytes, source: str, budget: WorkBudget, translator: Translator | None = None,
                   tile: int = 0, tile_overlap: int = 32) -> Any:
    """:func:`translate.run.budget.decode_within` of an upload (with ``translator``: the whole work
    of translating it), refused with 413 / 422 over the budget, 415 when it is not a readable
    image and 503 when decoding runs out of memory."""
    try:
        return decode_within(data, source, budget, None if translator is None else translator.card,
                             tile=tile, tile_overlap=tile_overlap)
    except OverBudget as e:
        raise _error(e.status, e) from None
    except PixelLimitError:  # over Pillow's or OpenCV's own limit, which are higher than the budget's
        raise _error(413, f"{source}: its header claims more pixels than the limit of {budget.max_pixels} "
                          f"({budget.pixels_flag}); send a smaller image") from None
    except DecodeMemoryError as e:
        raise _error(503, e) from None
    except TranslateError as e:
        raise _error(415, e) from None
    except MemoryError:  # numpy's _ArrayMemoryError while converting the decoded pixels
        raise _error(503, f"{source}: out of memory while decoding it; send a smaller image, or retry later") from None


def _acquire(lock: Any, stop: Callable[[], bool]) -> None:
    """Take ``lock`` (a Lock or Semaphore), asking ``stop`` every 50 ms while waiting; raise
    :class:`~translate.run.pipeline.Interrupted` when it says to stop first."""
    while not lock.acquire(timeout=0.05):
        if stop():
            raise Interrupted("stopped while waiting for the model")


def translate_upload(served: ServedModel, translator: Translator, data: bytes, name: str, mask: bytes | None,
                     mask_name: str, *, tile: int, tile_overlap: int, ext: str, limits: Limits,
                     stop: Callable[[], bool] = lambda: False) -> bytes:
    """Decode an uploaded image (and mask) within the work budget, translate it, encode it as
    ``ext``; blocking.

    Raises fastapi's HTTPException with the status and one-line message of each user error:
    413 over a bound of ``limits.budget()`` (pixels in or out, memory), 415 for undecodable data,
    422 for what the model refuses (tiles that do not fit the image, a missing, mis-sized or
    unwanted mask, a gray image for inpainting, an unencodable size), 503 when memory runs out;
    500 when the model contradicts its card. ``stop`` is asked while waiting for the model and
    before each tile: :class:`~translate.run.pipeline.Interrupted` when it says to stop.
    """
    from translate.errors import is_out_of_memory

    budget = limits.budget()
    image = _decode_within(data, name, budget, translator, tile, tile_overlap)
    hole = None
    if mask is not None:
        mask_image = _decode_within(mask, f"mask {mask_name}", budget)
        try:
            # a model without a mask input refuses any mask (with run's message) in translate()
            hole = mask_hole(mask_image, image.size, f"mask {mask_name}") if translator.needs_mask \
                else np.zeros(image.size, bool)
        except TranslateError as e:
            raise _error(422, e) from None
    try:
        _acquire(served.lock, stop)  # one request at a time per model: backends keep per-call state (IO binding)
        try:
            rgb, alpha = translator.translate(image, tile=tile, tile_overlap=tile_overlap, mask=hole, stop=stop)
        finally:
            served.lock.release()
        return encode_image(rgb, ext, alpha, image.bit_depth)
    except Interrupted:
        raise
    except TranslateError as e:
        raise _error(500 if e.stop_batch else 422, e) from None
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and not is_out_of_memory(e):
            raise
        raise _out_of_memory(name) from None


_SPOOL_BYTES = 1 << 20


class _Flight:
    """How many translate requests are in flight (processed or waiting); one event loop counts."""

    count = 0


async def _answer(scope: dict, send: Any, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Send a JSON ``{"detail": ...}`` answer and close the connection (its body may be unread)."""
    response = JSONResponse({"detail": printable(detail)}, status, headers={"Connection": "close", **(headers or {})})
    await response(scope, None, send)


class _Gate:
    """ASGI middleware in front of ``POST /v1/translate``: the body is read here, whole, before
    the request counts as in flight: 413 over the size limit (from ``Content-Length`` before
    reading, else while reading), 408 when it has not all arrived within ``read_timeout`` (a slow
    or stalled client holds no slot), then 429 when ``max_concurrent + max_queue`` requests are
    already in ``flight``. The application then reads the body from where it was kept."""

    def __init__(self, app: Any, limits: Limits, flight: _Flight):
        self.app = app
        self.limits = limits
        self.flight = flight

    def _too_large(self, size: str) -> str:
        return (f"the upload is {size}, more than this server's limit of {self.limits.max_upload_bytes} bytes "
                f"(translate serve --max-upload-mb); send a smaller file")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != TRANSLATE_PATH:
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_upload_bytes
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _answer(scope, send, 413, self._too_large(f"{int(length)} bytes"))
            return
        # Up to 1 MiB of a body is held in memory, the rest in a temp file: many slow uploads at once
        # cost disk, not RAM (the connections themselves are not counted).
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
            received = 0
            deadline = time.monotonic() + self.limits.read_timeout
            while True:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:  # asyncio.wait_for's, since Python 3.11
                    await _answer(scope, send, 408, f"the request body did not arrive within "
                                                    f"{self.limits.read_timeout:g} s (translate serve --read-timeout); "
                                                    f"send it again")
                    return
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    await _answer(scope, send, 413, self._too_large(f"more than {limit} bytes"))
                    return
                body.write(chunk)
                if not message.get("more_body", False):
                    break
            busy = self.limits.max_concurrent + self.limits.max_queue
            if self.flight.count >= busy:
                detail = (f"the server is busy: {busy} requests are in flight (translate serve --max-concurrent "
                          f"{self.limits.max_concurrent} --max-queue {self.limits.max_queue}); retry later")
                await _answer(scope, send, 429, detail, {"Retry-After": "1"})
                return
            body.seek(0)
            started = False

            async def replay() -> dict:
                nonlocal started
                if not started or body.tell() < received:  # an empty body is one empty message
                    started = True
                    chunk = body.read(_SPOOL_BYTES)
                    return {"type": "http.request", "body": chunk, "more_body": body.tell() < received}
                return await receive()  # after the body: http.disconnect when the client goes away

            self.flight.count += 1
            try:
                await self.app(scope, replay, send)
            finally:
                self.flight.count -= 1


def _page() -> str:
    return resources.files("translate.run").joinpath("web/index.html").read_text(encoding="utf-8")


def create_app(models: dict[str, ServedModel], limits: Limits = Limits()) -> FastAPI:
    """The FastAPI application serving ``models`` (from :func:`load_models`) within ``limits``."""
    if not models:
        raise TranslateError("no model to serve")
    from fastapi_offline import FastAPIOffline

    # /docs and /redoc load Swagger UI / ReDoc from this server (fastapi-offline ships the files), not
    # from a CDN: the page works on a machine without internet.
    app = FastAPIOffline(title="translate", version=__version__,
                         description="Image-to-image translation with GANs: the models this server was started with.")
    flight = _Flight()
    app.add_middleware(_Gate, limits=limits, flight=flight)
    # Waiting for a slot happens in a worker thread, not on the event loop: no asyncio primitive
    # bound to one loop (the gate bounds how many threads can wait).
    slots = threading.BoundedSemaphore(limits.max_concurrent)
    page = _page()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "")
        if request.url.path == TRANSLATE_PATH and not kind.lower().startswith("multipart/form-data"):
            return JSONResponse({"detail": printable(
                f"send the image as multipart/form-data (field 'image'), not {kind or 'an empty body'}")}, 415)
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"detail": printable("; ".join(parts))}, 422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, MemoryError):  # anywhere in a request (the form parser, a copy): not a bug
            return JSONResponse({"detail": "out of memory; send a smaller image, or retry later"}, 503)
        log.exception("a bug in translate serve")  # the traceback goes to the server's log only
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return JSONResponse({"detail": printable(f"internal error ({type(exc).__name__}: {reason}); "
                                                 f"a bug in translate, the server log has the details")}, 500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz", summary="Liveness: the server answers and its models are loaded")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": list(models), "in_flight": flight.count}

    @app.get("/v1/models", summary="The served models and their model cards")
    async def list_models() -> dict[str, Any]:
        return {"models": [m.describe() for m in models.values()],
                "limits": {"max_upload_bytes": limits.max_upload_bytes, "max_pixels": limits.max_pixels,
                           "max_output_pixels": limits.max_output_pixels, "max_memory_bytes": limits.max_memory_bytes,
                           "timeout_s": limits.timeout, "read_timeout_s": limits.read_timeout,
                           "max_concurrent": limits.max_concurrent, "max_queue": limits.max_queue}}

    @app.post(TRANSLATE_PATH, summary="Translate one image", response_class=Response,
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}},
                               "description": "the translated image (the model's scale times the input size)"},
                         408: {"description": "the body did not arrive within --read-timeout"},
                         413: {"description": "upload, image, result or estimated memory too large"},
                         415: {"description": "not a readable image, or not multipart/form-data"},
                         422: {"description": "bad option (tiles that do not fit the image), unknown model, "
                                              "missing or mismatched mask"},
                         429: {"description": "too many requests in flight; retry later"},
                         503: {"description": "out of memory, or not done within --timeout"}})
    async def translate_image(
        request: Request,
        image: UploadFile = File(..., description="the image (any format `translate run` reads)"),
        mask: UploadFile | None = File(None, description="inpainting models: the hole, white, the image's size"),
        model: str | None = Query(None, description="a served model's name (GET /v1/models); optional "
                                                    "when one model is served"),
        direction: Literal["AtoB", "BtoA"] | None = Query(None, description="generator of a CycleGAN checkpoint"),
        tile: int = Query(0, description="process in tiles of N px (bounded memory); 0 = whole image"),
        tile_overlap: int = Query(32, description="overlap between tiles in px (at most half of tile)"),
        format: Literal["png", "jpg", "jpeg"] | None = Query(None, description="output format; default from "
                                                             "the Accept header, else png"),
    ) -> Response:
        if model is None and len(models) > 1:
            raise _error(422, f"model: give one of {', '.join(models)} (several models are served)")
        served = models.get(model) if model is not None else next(iter(models.values()))
        if served is None:
            raise _error(422, f"model: no model '{model}' on this server; it serves {', '.join(models)}")
        try:
            translator = served.pick(direction)
            translator.check_tiling(tile, tile_overlap)
            ext = output_format(format, request.headers.get("accept"))
        except TranslateError as e:
            raise _error(422, e) from None
        name = _upload_name(image.filename, "image")
        data = await image.read()
        mask_data = await mask.read() if mask is not None else None
        mask_name = _upload_name(mask.filename if mask is not None else None, "mask")

        # The work stops at its next tile (or while waiting for a slot) once the client has gone
        # or the deadline has passed: nothing computes for nobody.
        gone = threading.Event()
        deadline = time.monotonic() + limits.timeout

        def stop() -> bool:
            return gone.is_set() or time.monotonic() > deadline

        def work() -> bytes:
            _acquire(slots, stop)
            try:
                return translate_upload(served, translator, data, name, mask_data, mask_name, tile=tile,
                                        tile_overlap=tile_overlap, ext=ext, limits=limits, stop=stop)
            finally:
                slots.release()

        task = asyncio.ensure_future(run_in_threadpool(work))
        try:
            while not (await asyncio.wait({task}, timeout=0.25))[0]:
                if not gone.is_set() and await request.is_disconnected():
                    gone.set()
            body = task.result()
        except Interrupted:
            if gone.is_set():  # nobody reads this answer
                raise _error(503, f"{name}: the client disconnected; the work was stopped") from None
            raise _error(503, f"{name}: not done within this server's limit of {limits.timeout:g} s (translate "
                              f"serve --timeout); send a smaller image, or tiles (tile=512) on a busy server") from None
        finally:
            if not task.done():  # this handler was cancelled: let the work stop at its next tile
                gone.set()
        filename = _download_name(name, served.name, ext)
        return Response(body, media_type=MEDIA_TYPES[ext],
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})

    return app


def http_protocol(header_timeout: float) -> type:
    """uvicorn's h11 HTTP protocol class with three changes, for ``uvicorn.Config(http=...)``:

    - its own 400 answers (a request line or headers over h11's 16 KiB, a malformed request or
      chunked body) are a JSON ``{"detail": "one line"}`` like every other error, not plain text;
    - when such a 400 ends a request whose handler is running, the handler sees the client as
      gone (``http.disconnect``) and its answer is dropped, instead of h11 raising
      ``LocalProtocolError`` into it (which was logged as a bug, with tracebacks);
    - a connection that has not sent a whole request line and headers within ``header_timeout``
      seconds of opening, or of its previous answer (keep-alive), is closed: uvicorn has no such
      timeout, and its keep-alive timer stops at the first byte of the next request, so a client
      that stalls inside those headers would hold the connection for ever (the body's timeout is
      :class:`_Gate`'s).
    """
    import json

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonErrorsH11Protocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._header_timer = self.loop.call_later(header_timeout, self._headers_overdue)

        def _headers_overdue(self) -> None:
            waiting_for_headers = self.cycle is None or self.cycle.response_complete
            if waiting_for_headers and not self.transport.is_closing():
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # the next request's headers have the same time
                self._header_timer.cancel()
                self._header_timer = self.loop.call_later(header_timeout, self._headers_overdue)

        def connection_lost(self, exc: Exception | None) -> None:
            self._header_timer.cancel()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.disconnected = True  # the handler's answer is dropped, not raised into
                self.cycle.message_event.set()
            pending, _ = self.conn.trailing_data
            # what h11 buffers before it gives up (uvicorn's --h11-max-incomplete-event-size, 16 KiB)
            limit = getattr(self.conn, "_max_incomplete_event_size", 16 * 1024)
            if len(pending) >= limit:
                reason = f"the request line or headers are longer than {limit} bytes; send a shorter URL"
            else:
                reason = "not a valid HTTP/1.1 request (a malformed request line, header or chunked body)"
            if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):  # an answer has begun: just close
                self.transport.close()
                return
            body = json.dumps({"detail": reason}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                       (b"connection", b"close")]
            try:
                for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                              h11.Data(data=body), h11.EndOfMessage()):
                    self.transport.write(self.conn.send(event))
            except h11.LocalProtocolError:
                pass
            self.transport.close()

    return JsonErrorsH11Protocol


__all__ = ["Limits", "ServedModel", "create_app", "http_protocol", "load_models", "output_format", "translate_upload"]
