"""Type from content: the first bytes of a file decide what it is, never its name or MIME type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from instasched.exceptions import UnsupportedMediaType

# Enough bytes to recognise every accepted format and to name what a refused file is.
SNIFF_BYTES = 64

MediaKind = Literal["jpeg", "png", "mp4", "mov"]


@dataclass(frozen=True)
class Sniffed:
    kind: MediaKind
    media_type: Literal["image", "video"]
    mime_type: str
    ext: str


JPEG = Sniffed("jpeg", "image", "image/jpeg", "jpg")
PNG = Sniffed("png", "image", "image/png", "png")
MP4 = Sniffed("mp4", "video", "video/mp4", "mp4")
MOV = Sniffed("mov", "video", "video/quicktime", "mov")

ACCEPTED = "JPEG, PNG, MP4 or MOV"

# ISO base media brands that are still images or audio, not videos Instagram takes.
_STILL_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_3GP_PREFIX = (b"3gp", b"3g2")
# Old QuickTime files may start with one of these atoms instead of `ftyp`.
_QT_LEADING_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff(head: bytes) -> Sniffed:
    """What the file is, from its first bytes; 415 with the reason otherwise."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12:
        atom = head[4:8]
        if atom == b"ftyp":
            brand = head[8:12]
            if brand == b"qt  ":
                return MOV
            if brand in _STILL_BRANDS:
                raise UnsupportedMediaType(
                    "HEIC/AVIF images are not accepted: export the photo as JPEG "
                    f"(accepted: {ACCEPTED})",
                    detail={"field": "file", "detected": "heic/avif"},
                )
            if brand in _AUDIO_BRANDS:
                raise UnsupportedMediaType(
                    f"The file is audio only; upload a video or an image ({ACCEPTED})",
                    detail={"field": "file", "detected": "audio"},
                )
            if brand.startswith(_3GP_PREFIX):
                raise UnsupportedMediaType(
                    f"3GP videos are not accepted by Instagram: export as MP4 ({ACCEPTED})",
                    detail={"field": "file", "detected": "3gp"},
                )
            return MP4
        if atom in _QT_LEADING_ATOMS:
            return MOV
    raise UnsupportedMediaType(
        f"The file is {describe(head)}, not an accepted format ({ACCEPTED}); "
        "the type is read from the file's content, not its name",
        detail={"field": "file", "detected": describe(head)},
    )


def describe(head: bytes) -> str:
    """A human name for what the bytes look like, for error messages."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return "empty"
    if text.startswith(b"%pdf"):
        return "a PDF document"
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in text:
        return "an SVG image"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "an HTML document"
    if text.startswith(b"<?xml"):
        return "an XML document"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    if head.startswith(b"RIFF"):
        return "a RIFF (AVI/WAV) file"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "a TIFF image"
    if head.startswith(b"BM"):
        return "a BMP image"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "a WebM/Matroska video"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "an MPEG stream"
    return "of an unknown type"
