"""`translate serve`: models as a local HTTP service (FastAPI) with a browser page at ``/``.

The service is a thin layer over what `translate run` uses: models are resolved and loaded by
:func:`translate.run.inference.load` (so an ``.onnx`` file is served by the torch-free runtime),
uploads are decoded by :func:`translate.imageio.decode_image` (the decoder of
:func:`~translate.imageio.read_image`), translated by :meth:`Translator.translate
<translate.run.pipeline.Translator.translate>` and encoded by :func:`translate.imageio.encode_image`,
so a response holds the same bytes `translate run` writes for the same image and options.

Endpoints::

    POST /v1/translate?model=NAME[&direction=AtoB|BtoA][&tile=N&tile_overlap=M][&format=png|jpeg]
         multipart/form-data: image=<file> [mask=<file>, inpainting models]  -> image/png | image/jpeg
    GET  /v1/models     the served models and their cards (JSON)
    GET  /healthz       {"status": "ok", ...}
    GET  /              the browser page;  GET /docs: the OpenAPI documentation

Requests are bounded by :class:`Limits`: the body size (checked against ``Content-Length`` before
anything is read, and counted while it is read), the pixel count (the header's, before decoding,
by :func:`~translate.imageio.declared_size`; the decoded image's), and the requests in
flight (``max_concurrent`` being translated plus ``max_queue`` waiting; one more is answered 429
before its body is read). Each model translates one request at a time (a lock per model); decoding
and encoding of other requests overlap with it. A user error is a 4xx with ``{"detail": "one
line"}``, the text `translate run` prints for the same input: 413 too large, 415 not a readable
image (or not multipart), 422 a bad option / model / mask, 429 too many requests. Nothing here
imports torch.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from translate.errors import TranslateError, printable
from translate.imageio import Image, PixelLimitError, check_format, declared_size, decode_image, encode_image
from translate.run.pipeline import Translator, mask_hole
from translate.version import __version__

log = logging.getLogger("translate.serve")

MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
TRANSLATE_PATH = "/v1/translate"


@dataclass(frozen=True)
class Limits:
    """What one server accepts: ``max_upload_bytes`` per request body, ``max_pixels`` per decoded
    image, ``max_concurrent`` requests processed at once and ``max_queue`` more waiting for a slot."""

    max_upload_bytes: int = 25 * 2**20
    max_pixels: int = 4096 * 4096
    max_concurrent: int = 2
    max_queue: int = 16


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
        """The JSON object ``GET /v1/models`` lists for this model."""
        translator = self.default
        return {"name": self.name, "directions": list(self.translators), "needs_mask": translator.needs_mask,
                "runtime": "onnxruntime" if str(self.spec).lower().endswith(".onnx") else "pytorch",
                "device": translator.device, "card": translator.card.to_dict()}


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


def _too_many_pixels(name: str, limits: Limits, size: tuple[int, int] | None = None) -> HTTPException:
    what = f"{size[1]}x{size[0]} is {size[0] * size[1]} pixels, more than" if size else "its header claims more pixels than"
    return _error(413, f"{name}: {what} this server's limit of {limits.max_pixels} "
                       f"(translate serve --max-pixels); send a smaller image")


def _decode_within(data: bytes, source: str, limits: Limits) -> Image:
    """:func:`decode_image` of an upload, refused with 413 when its header declares more than
    ``limits.max_pixels`` (checked before the pixels are allocated where Pillow knows the format,
    and after decoding otherwise) and with 415 when it is not a readable image."""
    try:
        size = declared_size(data, source)
        if size is not None and size[0] * size[1] > limits.max_pixels:
            raise _too_many_pixels(source, limits, size)
        image = decode_image(data, source)
    except PixelLimitError:
        raise _too_many_pixels(source, limits) from None
    except TranslateError as e:
        raise _error(415, e) from None
    if image.size[0] * image.size[1] > limits.max_pixels:
        raise _too_many_pixels(source, limits, image.size)
    return image


def translate_upload(served: ServedModel, translator: Translator, data: bytes, name: str, mask: bytes | None,
                     mask_name: str, *, tile: int, tile_overlap: int, ext: str, limits: Limits) -> bytes:
    """Decode an uploaded image (and mask), translate it, encode it as ``ext``; blocking.

    Raises fastapi's HTTPException with the status and one-line message of each user error:
    413 for more than ``limits.max_pixels``, 415 for undecodable data, 422 for what the model
    refuses (a missing, mis-sized or unwanted mask, a gray image for inpainting, an
    unencodable size), 503 when memory runs out; 500 when the model contradicts its card.
    """
    from translate.errors import is_out_of_memory

    image = _decode_within(data, name, limits)
    hole = None
    if mask is not None:
        mask_image = _decode_within(mask, f"mask {mask_name}", limits)
        try:
            # a model without a mask input refuses any mask (with run's message) in translate()
            hole = mask_hole(mask_image, image.size, f"mask {mask_name}") if translator.needs_mask \
                else np.zeros(image.size, bool)
        except TranslateError as e:
            raise _error(422, e) from None
    try:
        with served.lock:  # one request at a time per model: backends keep per-call state (IO binding)
            rgb, alpha = translator.translate(image, tile=tile, tile_overlap=tile_overlap, mask=hole)
        return encode_image(rgb, ext, alpha, image.bit_depth)
    except TranslateError as e:
        raise _error(500 if e.stop_batch else 422, e) from None
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and not is_out_of_memory(e):
            raise
        raise _error(503, f"{name}: out of memory; send a smaller image or process it in tiles, e.g. tile=512") from None


class _Flight:
    """How many translate requests are in flight (processed or waiting); one event loop counts."""

    count = 0


class _Gate:
    """ASGI middleware in front of ``POST /v1/translate``: 413 for a body over the limit (from
    ``Content-Length`` before reading, else while reading) and 429 when ``max_concurrent +
    max_queue`` requests are already in ``flight``, before the body is read."""

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
            await JSONResponse({"detail": self._too_large(f"{int(length)} bytes")}, 413)(scope, receive, send)
            return
        busy = self.limits.max_concurrent + self.limits.max_queue
        if self.flight.count >= busy:
            detail = (f"the server is busy: {busy} requests are in flight (translate serve --max-concurrent "
                      f"{self.limits.max_concurrent} --max-queue {self.limits.max_queue}); retry later")
            await JSONResponse({"detail": detail}, 429, headers={"Retry-After": "1"})(scope, receive, send)
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _error(413, self._too_large(f"more than {limit} bytes"))
            return message

        self.flight.count += 1
        try:
            await self.app(scope, counted, send)
        finally:
            self.flight.count -= 1


def _page() -> str:
    return resources.files("translate.run").joinpath("web/index.html").read_text(encoding="utf-8")


def create_app(models: dict[str, ServedModel], limits: Limits = Limits()) -> FastAPI:
    """The FastAPI application serving ``models`` (from :func:`load_models`) within ``limits``."""
    if not models:
        raise TranslateError("no model to serve")
    app = FastAPI(title="translate", version=__version__,
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
                           "max_concurrent": limits.max_concurrent, "max_queue": limits.max_queue}}

    @app.post(TRANSLATE_PATH, summary="Translate one image", response_class=Response,
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}},
                               "description": "the translated image (the model's scale times the input size)"},
                         413: {"description": "upload or image too large"},
                         415: {"description": "not a readable image, or not multipart/form-data"},
                         422: {"description": "bad option, unknown model, missing or mismatched mask"},
                         429: {"description": "too many requests in flight; retry later"}})
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

        def work() -> bytes:
            with slots:
                return translate_upload(served, translator, data, name, mask_data, mask_name,
                                        tile=tile, tile_overlap=tile_overlap, ext=ext, limits=limits)

        body = await run_in_threadpool(work)
        filename = _download_name(name, served.name, ext)
        return Response(body, media_type=MEDIA_TYPES[ext],
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})

    return app


__all__ = ["Limits", "ServedModel", "create_app", "load_models", "output_format", "translate_upload"]
