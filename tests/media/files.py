"""Real media files generated in tests (Pillow for images, PyAV for videos).

Other domains import these, e.g. `from tests.media.files import jpeg_bytes, mp4_bytes`.
Every function returns the bytes of a complete, valid file unless its name says otherwise.
"""

from __future__ import annotations

import io
import os
import tempfile
from fractions import Fraction
from typing import Any

__all__ = [
    "bomb_png_bytes",
    "cmyk_jpeg_bytes",
    "exif_rotated_jpeg_bytes",
    "html_bytes",
    "jpeg_bytes",
    "large_jpeg_bytes",
    "mov_bytes",
    "mp4_bytes",
    "pdf_bytes",
    "png_bytes",
    "svg_bytes",
    "video_bytes",
]


def jpeg_bytes(
    width: int = 1080,
    height: int = 1080,
    color: tuple[int, int, int] = (200, 80, 40),
    quality: int = 85,
) -> bytes:
    """A plain sRGB baseline JPEG of one colour."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(
    width: int = 1080,
    height: int = 1080,
    mode: str = "RGBA",
    color: tuple[int, ...] = (10, 120, 200, 255),
) -> bytes:
    """A PNG (RGBA by default, with a half-transparent corner so alpha is really used)."""
    from PIL import Image

    image = Image.new(mode, (width, height), color if mode in ("RGBA", "RGB") else 128)
    if mode == "RGBA":
        corner = Image.new("RGBA", (max(1, width // 4), max(1, height // 4)), (255, 0, 0, 128))
        image.paste(corner, (0, 0))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def exif_rotated_jpeg_bytes(width: int = 1200, height: int = 800, orientation: int = 6) -> bytes:
    """A JPEG stored `width`x`height` whose EXIF Orientation (6 = rotate 90° CW) swaps them."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (30, 160, 90))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue()


def cmyk_jpeg_bytes(width: int = 1080, height: int = 1080) -> bytes:
    """A CMYK JPEG (print files): Instagram needs it converted to sRGB."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("CMYK", (width, height), (0, 120, 200, 20)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def large_jpeg_bytes(target_bytes: int, *, seed: int = 1) -> bytes:
    """A noisy JPEG of just under `target_bytes` (noise defeats compression)."""
    import random

    from PIL import Image

    gen = random.Random(seed)
    bytes_per_pixel = 2.0
    data = b""
    for _ in range(8):
        side = int((target_bytes * 0.985 / bytes_per_pixel) ** 0.5)
        image = Image.frombytes("RGB", (side, side), gen.randbytes(side * side * 3))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=95)
        data = buf.getvalue()
        if target_bytes * 0.95 <= len(data) <= target_bytes:
            return data
        bytes_per_pixel = len(data) / (side * side)
    if len(data) > target_bytes:
        raise ValueError(f"could not make a JPEG under {target_bytes} bytes")
    return data


def bomb_png_bytes(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG that decodes to `width`x`height` pixels (a decompression bomb)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (width, height), 0).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def video_bytes(
    *,
    container: str = "mp4",
    seconds: float = 3.0,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    codec: str = "h264",
    audio: bool = True,
    sample_rate: int = 44100,
    faststart: bool = True,
    rotate: int | None = None,
    pix_fmt: str = "yuv420p",
    x264_params: str | None = None,
    audio_layout: str = "mono",
) -> bytes:
    """A real video (H.264 or HEVC + AAC by default) made with PyAV; a moving colour gradient."""
    import math
    import struct

    import av
    from PIL import Image

    fd, path = tempfile.mkstemp(suffix="." + container)
    os.close(fd)
    try:
        options = {"movflags": "faststart"} if faststart else {}
        fmt = "mov" if container == "mov" else "mp4"
        with av.open(path, "w", format=fmt, options=options) as out:
            vstream: Any = out.add_stream(codec, rate=fps)
            vstream.width = width
            vstream.height = height
            vstream.pix_fmt = pix_fmt
            vstream.options = {"preset": "ultrafast"}
            if x264_params:  # e.g. "interlaced=1" or "open-gop=1:keyint=15:bframes=3"
                vstream.options = {"preset": "veryfast", "x264-params": x264_params}
            if codec in ("hevc", "libx265"):
                vstream.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
            if rotate is not None:
                # Display matrix (counter-clockwise degrees), as phones write it.
                vstream.set_display_rotation(rotate)
            astream: Any = None
            if audio:
                astream = out.add_stream("aac", rate=sample_rate)
                astream.layout = audio_layout
            frames = max(1, round(seconds * fps))
            for i in range(frames):
                shade = (i * 7) % 256
                image = Image.new("RGB", (width, height), (shade, 90, 255 - shade))
                frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode():
                out.mux(packet)
            if astream is not None:
                total = int(seconds * sample_rate)
                chunk = 1024
                t = 0
                while t < total:
                    n = min(chunk, total - t)
                    pcm = b"".join(
                        struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * k / sample_rate)))
                        for k in range(t, t + n)
                    )
                    channels = av.AudioLayout(audio_layout).nb_channels
                    if channels > 1:  # interleaved: the same sample on every channel
                        pcm = b"".join(pcm[k : k + 2] * channels for k in range(0, len(pcm), 2))
                    aframe = av.AudioFrame(format="s16", layout=audio_layout, samples=n)
                    aframe.planes[0].update(pcm)
                    aframe.sample_rate = sample_rate
                    aframe.pts = t
                    aframe.time_base = Fraction(1, sample_rate)
                    for packet in astream.encode(aframe):
                        out.mux(packet)
                    t += n
                for packet in astream.encode():
                    out.mux(packet)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def mp4_bytes(seconds: float = 3.0, width: int = 320, height: int = 240, **kw: object) -> bytes:
    """A small H.264 + AAC MP4 with the moov atom at the front (faststart)."""
    return video_bytes(container="mp4", seconds=seconds, width=width, height=height, **kw)  # type: ignore[arg-type]


def mov_bytes(seconds: float = 3.0, width: int = 320, height: int = 240, **kw: object) -> bytes:
    """A small H.264 + AAC QuickTime MOV."""
    return video_bytes(container="mov", seconds=seconds, width=width, height=height, **kw)  # type: ignore[arg-type]


def html_bytes() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"


def svg_bytes() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
    )


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
