"""Streamed multipart receiver: the request body goes to a temp file as it arrives.

Starlette's own form parser would read the whole body (spooling it) before the endpoint runs, so
a 5 GB upload would be read completely before anyone said no. Here the body is parsed chunk by
chunk; the file's first bytes decide its type, and the size limit for that type is enforced as
the bytes arrive: 413 as soon as it is crossed, with nothing kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from instasched.exceptions import BadRequest, Invalid, PayloadTooLarge, UnsupportedMediaType
from instasched.media.sniff import SNIFF_BYTES, Sniffed, sniff

FILE_FIELD = "file"
# Bytes handed to the writer thread at a time: big enough that thread hops are rare.
FLUSH_BYTES = 256 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50
# Multipart framing (boundaries, part headers, small fields) allowed beyond the file itself.
ENVELOPE_BYTES = 256 * 1024
# On a 413 the rest of the body is not read: closing the connection stops the client sending it
# (otherwise the server would keep receiving, and discarding, the remaining bytes).
_CLOSE = {"Connection": "close"}


@dataclass
class ReceivedFile:
    path: Path
    size: int
    sha256: str
    sniffed: Sniffed
    filename: str
    client_content_type: str | None


@dataclass
class ReceivedForm:
    file: ReceivedFile | None
    fields: dict[str, list[str]] = field(default_factory=dict)


def human_size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def safe_filename(raw: str | None) -> str:
    """The client's file name without any path, control characters or excess length."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".") or "upload"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) <= 9 else name[:200]
    return name


class _FileSink:
    """The temp file being written; hashing and writing happen off the event loop."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix="upload-", dir=directory)
        self.path = Path(name)
        self._fh: IO[bytes] = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0
        self.head = b""

    def _write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self._hash.update(chunk)
            self._fh.write(chunk)

    async def add(self, data: bytes) -> None:
        self.size += len(data)
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            chunks, self._pending, self._pending_size = self._pending, [], 0
            await asyncio.to_thread(self._write, chunks)

    async def finish(self) -> str:
        await self.flush()
        await asyncio.to_thread(self._fh.close)
        return self._hash.hexdigest()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.name: str | None = None
        self.filename: str | None = None
        self.content_type: str | None = None
        self.text = bytearray()
        self.sink: _FileSink | None = None


async def receive_upload(
    stream: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    tmp_dir: Path,
    image_limit: int,
    video_limit: int,
) -> ReceivedForm:
    """Parse a multipart body into a temp file (field `file`) and text fields.

    The caller owns `result.file.path` and must delete it. On any error nothing is left behind.
    """
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "Send the upload as multipart/form-data with the media in the field `file`",
            detail={"field": "file"},
        )
    largest = max(image_limit, video_limit)
    if content_length is not None and content_length > largest + ENVELOPE_BYTES:
        raise PayloadTooLarge(
            f"The upload is {human_size(content_length)}; the limit is "
            f"{human_size(image_limit)} for images and {human_size(video_limit)} for videos",
            detail={"field": "file", "limit": largest},
            headers=_CLOSE,
        )

    events: list[tuple[str, bytes]] = []

    def _data(kind: str) -> Callable[[bytes, int, int], None]:
        def cb(data: bytes, start: int, end: int) -> None:
            events.append((kind, bytes(data[start:end])))

        return cb

    def _mark(kind: str) -> Callable[[], None]:
        def cb() -> None:
            events.append((kind, b""))

        return cb

    callbacks: Any = {
        "on_part_begin": _mark("begin"),
        "on_part_data": _data("data"),
        "on_part_end": _mark("part_end"),
        "on_header_field": _data("hfield"),
        "on_header_value": _data("hvalue"),
        "on_header_end": _mark("hend"),
        "on_headers_finished": _mark("hdone"),
        "on_end": _mark("end"),
    }
    parser = MultipartParser(boundary, callbacks)
    form = ReceivedForm(file=None)
    sinks: list[_FileSink] = []
    part: _Part | None = None
    hfield = bytearray()
    hvalue = bytearray()
    ended = False
    sniffed: Sniffed | None = None
    limit = largest
    field_count = 0
    file_meta: tuple[str, str | None] | None = None

    def too_large(size: int) -> PayloadTooLarge:
        if sniffed is None:
            what = f"The upload is over {human_size(largest)}"
        elif sniffed.media_type == "image":
            what = f"The image is larger than {human_size(image_limit)} (MAX_FILE_SIZE)"
        else:
            what = f"The video is larger than {human_size(video_limit)} (MAX_VIDEO_FILE_SIZE)"
        return PayloadTooLarge(
            f"{what}; upload a smaller file",
            detail={"field": "file", "limit": limit},
            headers=_CLOSE,
        )

    try:
        async for chunk in stream:
            if not chunk:
                continue
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest(
                    f"The multipart body is malformed: {exc}", detail={"field": "file"}
                ) from exc
            pending, events[:] = list(events), []
            for kind, data in pending:
                if kind == "begin":
                    part = _Part()
                elif kind == "end":
                    ended = True
                elif part is None:
                    continue
                elif kind == "hfield":
                    hfield += data
                elif kind == "hvalue":
                    hvalue += data
                elif kind == "hend":
                    # latin-1 keeps the raw bytes: parse_options_header re-encodes to latin-1
                    # (a UTF-8-decoded value with a non-latin-1 character made it raise, a 500)
                    # and the name/filename are decoded as UTF-8 from those bytes below.
                    part.headers[hfield.decode("latin-1").lower()] = hvalue.decode("latin-1")
                    hfield.clear()
                    hvalue.clear()
                elif kind == "hdone":
                    _, disp = parse_options_header(part.headers.get("content-disposition", ""))
                    raw_name = disp.get(b"name")
                    raw_filename = disp.get(b"filename")
                    part.name = raw_name.decode("utf-8", "replace") if raw_name else None
                    part.filename = (
                        raw_filename.decode("utf-8", "replace")
                        if raw_filename is not None
                        else None
                    )
                    part.content_type = part.headers.get("content-type")
                    if part.name == FILE_FIELD:
                        if sinks:
                            raise Invalid(
                                "Send exactly one file per upload in the field `file`",
                                field="file",
                            )
                        part.sink = await asyncio.to_thread(_FileSink, tmp_dir)
                        sinks.append(part.sink)
                        file_meta = (safe_filename(part.filename), part.content_type)
                    else:
                        field_count += 1
                        if field_count > MAX_FIELDS:
                            raise Invalid("Too many form fields", field=part.name or "form")
                elif kind == "data":
                    if part.sink is not None:
                        sink = part.sink
                        await sink.add(data)
                        if sniffed is None and len(sink.head) >= SNIFF_BYTES:
                            sniffed = sniff(sink.head)
                            limit = image_limit if sniffed.media_type == "image" else video_limit
                        if sink.size > limit:
                            raise too_large(sink.size)
                    else:
                        part.text += data
                        if len(part.text) > MAX_FIELD_BYTES:
                            raise Invalid(
                                f"The form field `{part.name}` is too long",
                                field=part.name or "form",
                            )
                elif kind == "part_end":
                    if part.sink is None and part.name:
                        form.fields.setdefault(part.name, []).append(
                            part.text.decode("utf-8", "replace")
                        )
                    part = None
        if not ended:
            raise BadRequest(
                "The upload was cut off before the end of the multipart body; send it again",
                detail={"field": "file"},
            )
        if not sinks or file_meta is None:
            raise Invalid(
                "No file: send the media as multipart/form-data in the field `file`",
                field="file",
            )
        sink = sinks[0]
        digest = await sink.finish()
        if sink.size == 0:
            raise Invalid("The file is empty", field="file")
        if sniffed is None:
            sniffed = sniff(sink.head)
        form.file = ReceivedFile(
            path=sink.path,
            size=sink.size,
            sha256=digest,
            sniffed=sniffed,
            filename=file_meta[0],
            client_content_type=file_meta[1],
        )
        return form
    except BaseException:
        for s in sinks:
            s.discard()
        raise
