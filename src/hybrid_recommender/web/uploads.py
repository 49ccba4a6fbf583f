"""Uploads: a photo or a short video in, the command's result out.

A photo is decoded and read in memory (never written). OpenCV decodes video only from a file, so a video is
written to a private temporary file that is deleted as soon as it has been read. Every check happens before
any model runs, and each failure is a :class:`RequestError` whose HTTP status says which kind it is.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.core import (
    Resources,
    recommend_for_frames,
    recommend_for_input,
)
from hybrid_recommender.inference.group import STRATEGIES
from hybrid_recommender.inference.inputs import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputKind,
    decode_image,
)
from hybrid_recommender.inference.result import InferenceResult
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.web.options import WebOptions

MAX_TOP_N = 100                      # as the command's --top-n
EXPECTED = (f"a photo ({', '.join(IMAGE_SUFFIXES)}) or a short video ({', '.join(VIDEO_SUFFIXES)})")


class RequestError(InputDataError):
    """Bad input from a client; ``status`` is the HTTP status that answers it (400 empty, 413 too large,
    415 unsupported type, 422 unreadable or a bad setting)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def file_from_multipart(body: bytes, content_type: str, field: str = "file") -> tuple[str, bytes]:
    """(file name, bytes) of form field ``field`` of a multipart/form-data body, parsed in memory (a web
    framework's own form parser spools large files to disk)."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestError("expected a multipart/form-data request with a boundary", 400)
    parts: list[dict] = []
    header: list[bytes] = [b"", b""]

    def begin():
        parts.append({"headers": {}, "data": bytearray()})

    def header_field(data, start, end):
        header[0] += data[start:end]

    def header_value(data, start, end):
        header[1] += data[start:end]

    def header_end():
        parts[-1]["headers"][header[0].decode("latin-1").lower()] = header[1].decode("utf-8", "replace")
        header[0], header[1] = b"", b""

    def part_data(data, start, end):
        parts[-1]["data"] += data[start:end]

    parser = MultipartParser(boundary, {"on_part_begin": begin, "on_header_field": header_field,
                                        "on_header_value": header_value, "on_header_end": header_end,
                                        "on_part_data": part_data})
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:                  # python-multipart raises its own errors for a malformed body
        raise RequestError(f"malformed multipart/form-data body ({exc})", 400) from None
    for part in parts:
        _, disposition = parse_options_header(part["headers"].get("content-disposition", ""))
        if disposition.get(b"name", b"").decode() == field:
            return disposition.get(b"filename", b"").decode("utf-8", "replace"), bytes(part["data"])
    raise RequestError(f"no {field!r} field in the form: expected {EXPECTED} as multipart field {field!r}", 400)


def recommend_for_upload(data: bytes, filename: str, resources: Resources, settings: InferenceSettings,
                         options: WebOptions) -> InferenceResult:
    """The command's result for an uploaded photo or video; RequestError for an empty, oversized, unsupported,
    overlarge (pixels) or unreadable file."""
    name = Path(filename or "upload").name or "upload"
    if not data:
        what = f"{name}: empty file" if filename else "no file chosen"
        raise RequestError(f"{what} (expected {EXPECTED})", 400)
    mb = len(data) / 2**20
    if mb > options.max_upload_mb:
        raise RequestError(f"{name}: {mb:.1f} MB is over the {options.max_upload_mb:g} MB upload limit", 413)
    suffix = Path(name).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return _video(data, name, suffix, resources, settings, options)
    if suffix and suffix not in IMAGE_SUFFIXES:
        raise RequestError(f"{name}: unsupported file type {suffix!r}; expected {EXPECTED}", 415)
    started = time.perf_counter()
    check_pixels(data, name, options.max_megapixels)
    frame = _decoded(data, name)
    return recommend_for_frames([frame], 1, name, InputKind.IMAGE, resources, settings, started=started)


def check_pixels(data: bytes, name: str, max_megapixels: float) -> None:
    """Refuse an image over ``max_megapixels`` from its header alone (decoding a 40 MP photo takes ~120 MB)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise RequestError(f"{name}: far over the {max_megapixels:g} MP limit (send a smaller photo)", 413) from None
    except (UnidentifiedImageError, OSError, ValueError):
        return                                # not an image Pillow knows: the decoder below says so
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise RequestError(f"{name}: {width}x{height} is {megapixels:.1f} megapixels, over the "
                           f"{max_megapixels:g} MP limit (send a smaller photo)", 413)


def _decoded(data: bytes, name: str):
    try:
        return decode_image(data, name)
    except InputDataError as exc:
        raise RequestError(str(exc), 422) from None


def _video(data: bytes, name: str, suffix: str, resources: Resources, settings: InferenceSettings,
           options: WebOptions) -> InferenceResult:
    settings = settings.model_copy(update={"max_frames": min(settings.max_frames, options.max_video_frames)})
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="upload-")     # readable by this user only (0600)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        result = recommend_for_input(path, resources, settings)
    except InputDataError as exc:
        raise RequestError(str(exc).replace(path, name), 422) from None
    finally:
        os.unlink(path)
    result.input = name
    return result


def settings_with(settings: InferenceSettings, group_strategy: str | None = None,
                  top_n: str | int | None = None) -> InferenceSettings:
    """``settings`` with a request's choices, checked like the command's ``--strategy`` and ``--top-n``."""
    chosen: dict = {}
    if group_strategy:
        if group_strategy not in STRATEGIES:
            raise RequestError(f"group_strategy {group_strategy!r}: expected one of {', '.join(STRATEGIES)}", 422)
        chosen["group_strategy"] = group_strategy
    if top_n not in (None, ""):
        if not str(top_n).isdigit() or not 1 <= int(top_n) <= MAX_TOP_N:
            raise RequestError(f"top_n {top_n!r}: expected a whole number from 1 to {MAX_TOP_N}", 422)
        chosen["top_n"] = int(top_n)
    return settings.model_copy(update=chosen) if chosen else settings
