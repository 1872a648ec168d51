"""Decode, measure and derive files (CPU work: always run in `run_cpu`, never on the event loop).

Images (Pillow): full decode to verify, EXIF orientation applied, an Instagram-ready sRGB JPEG when
the original is not one, a preview. Videos (PyAV): container atoms (truncation, faststart),
streams (codecs, fps, sample rate, rotation), a thumbnail about 1 s in; a faststart remux when
the moov atom is at the end (Instagram wants it at the front).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from instasched.exceptions import Invalid, UnsupportedMediaType
from instasched.integrations.instagram import video_probe
from instasched.integrations.instagram.publish_rules import milliseconds
from instasched.kit.text import with_article
from instasched.media.sniff import Sniffed

T = TypeVar("T")

# Instagram's feed image limit: the JPEG it fetches must be at most this big.
IG_IMAGE_MAX_BYTES = 8 * 1024 * 1024
PUBLISH_JPEG_QUALITY = 92
PREVIEW_JPEG_QUALITY = 82
THUMBNAIL_AT_SECONDS = 1.0
# The JPEG encoder's (libjpeg's) largest width or height.
JPEG_MAX_SIDE = 65_500

_executor: ThreadPoolExecutor | None = None


def decode_threads(cpus: int, api_workers: int) -> int:
    """Decoding threads per API process: the machine's cores shared by its API processes, so
    `API_WORKERS` processes hold no more decoded bitmaps at once than one process did."""
    return max(1, max(2, cpus) // max(1, api_workers))


def _pool() -> ThreadPoolExecutor:
    # One bounded pool for decoding: concurrent uploads queue here instead of each holding a
    # decoded bitmap at once (bounded memory), and the event loop stays free.
    global _executor
    if _executor is None:
        from instasched.config import get_settings

        _executor = ThreadPoolExecutor(
            max_workers=decode_threads(os.cpu_count() or 2, get_settings().api_workers),
            thread_name_prefix="media-cpu",
        )
    return _executor


async def run_cpu(fn: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), lambda: fn(*args))


@dataclass
class Derived:
    role: Literal["publish", "preview", "thumbnail"]
    suffix: str  # e.g. "publish.jpg": the key is `{assetId}.{suffix}`
    path: Path
    content_type: str


@dataclass
class Processed:
    width: int
    height: int
    duration_ms: int | None
    metadata: dict[str, Any]
    derived: list[Derived] = field(default_factory=list)
    # Size of the object Instagram fetches (the publish file, else the original).
    publish_bytes: int = 0


def _invalid(message: str) -> Invalid:
    return Invalid(message, field="file")


# --- images ------------------------------------------------------------------------------------


def process_image(
    path: Path, sniffed: Sniffed, *, out_dir: Path, max_pixels: int, preview_size: int
) -> Processed:
    from PIL import Image, ImageOps, UnidentifiedImageError

    expected = {"jpeg": "JPEG", "png": "PNG"}[sniffed.kind]
    # Pillow's own bomb guard (warns above this, refuses above twice this) follows the setting;
    # our check below refuses anything over `max_pixels` before decoding.
    Image.MAX_IMAGE_PIXELS = max_pixels * 2
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _invalid(
            f"The image has too many pixels to process safely (decompression bomb); "
            f"the limit is {max_pixels:,} pixels (MAX_IMAGE_PIXELS)"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _invalid(
            f"The file starts like {with_article(expected)} image but cannot be read as one "
            "(corrupt or truncated); export it again"
        ) from exc
    with image:
        if image.format != expected:
            raise UnsupportedMediaType(
                f"The file is {with_article(str(image.format))} image, not {expected}; upload JPEG "
                "or PNG",
                detail={"field": "file"},
            )
        coded_w, coded_h = image.size
        if coded_w * coded_h > max_pixels:
            raise _invalid(
                f"The image is {coded_w}×{coded_h} = {coded_w * coded_h:,} pixels, over the "
                f"limit of {max_pixels:,} (MAX_IMAGE_PIXELS; a decompression bomb is refused); "
                "resize it"
            )
        if coded_w < 1 or coded_h < 1:
            raise _invalid("The image has no pixels")
        if max(coded_w, coded_h) > JPEG_MAX_SIDE:
            raise _invalid(
                f"The image is {coded_w:,}×{coded_h:,} px; Instagram takes JPEG, which holds "
                f"at most {JPEG_MAX_SIDE:,} px on a side: resize it"
            )
        try:
            image.load()  # full decode: a truncated or corrupt file fails here
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise _invalid(
                f"The {expected} image is truncated or corrupt ({exc}); export it again"
            ) from exc
        exif = image.getexif()
        orientation = int(exif.get(0x0112, 1) or 1)
        icc = image.info.get("icc_profile")
        icc_name = _icc_description(icc) if icc else None
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        )
        frames = int(getattr(image, "n_frames", 1) or 1)
        oriented = ImageOps.exif_transpose(image) if orientation != 1 else image
        width, height = oriented.size

        reasons: list[str] = []
        if sniffed.kind == "png":
            reasons.append("PNG is converted to JPEG (Instagram takes JPEG only)")
        if orientation != 1:
            reasons.append(f"EXIF orientation {orientation} applied to the pixels")
        if image.mode != "RGB":
            reasons.append(f"colour mode {image.mode} converted to RGB")
        if icc_name and "srgb" not in icc_name.lower():
            reasons.append(f"colour profile '{icc_name}' converted to sRGB")
        original_size = path.stat().st_size
        if sniffed.kind == "jpeg" and not reasons and original_size > IG_IMAGE_MAX_BYTES:
            reasons.append("re-encoded to fit Instagram's 8 MB image limit")

        derived: list[Derived] = []
        rgb = _to_srgb(oriented, icc) if reasons else oriented
        publish_bytes = original_size
        if reasons:
            publish_path = out_dir / "publish.jpg"
            publish_bytes = _save_jpeg_under(rgb, publish_path, IG_IMAGE_MAX_BYTES)
            derived.append(Derived("publish", "publish.jpg", publish_path, "image/jpeg"))
        preview = rgb if rgb.mode == "RGB" else _to_srgb(rgb, icc)
        preview = preview.copy()
        # reducing_gap=1: a fast integer box reduction first, then Lanczos for the last step.
        preview.thumbnail((preview_size, preview_size), Image.Resampling.LANCZOS, reducing_gap=1.0)
        preview_path = out_dir / "preview.jpg"
        preview.save(preview_path, "JPEG", quality=PREVIEW_JPEG_QUALITY)
        derived.append(Derived("preview", "preview.jpg", preview_path, "image/jpeg"))

        metadata: dict[str, Any] = {
            "format": expected,
            "mode": image.mode,
            "coded_width": coded_w,
            "coded_height": coded_h,
            "exif_orientation": orientation,
            "has_alpha": has_alpha,
            "icc_profile": icc_name,
            "frames": frames,
            "converted": bool(reasons),
            "conversion": reasons,
            "publish_format": "JPEG",
            "publish_bytes": publish_bytes,
            "preview_width": preview.width,
            "preview_height": preview.height,
        }
        return Processed(
            width=width,
            height=height,
            duration_ms=None,
            metadata=metadata,
            derived=derived,
            publish_bytes=publish_bytes,
        )


def _icc_description(icc: bytes) -> str | None:
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc: str = ImageCms.getProfileDescription(profile).strip()
        return desc or "embedded"
    except Exception:
        return "unreadable"


def _to_srgb(image: Any, icc: bytes | None) -> Any:
    """An RGB image in sRGB: alpha flattened on white, CMYK/P3/... converted through the ICC."""
    from PIL import Image, ImageCms

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if icc:
        with contextlib.suppress(Exception):
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
    return image.convert("RGB")


def _save_jpeg_under(image: Any, path: Path, max_bytes: int) -> int:
    """Save as JPEG at the best quality that fits `max_bytes`."""
    for quality in (PUBLISH_JPEG_QUALITY, 85, 78, 70, 60, 50):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        if buf.tell() <= max_bytes or quality == 50:
            path.write_bytes(buf.getbuffer())
            return buf.tell()
    raise AssertionError("unreachable")


# --- videos ------------------------------------------------------------------------------------


@dataclass
class Atom:
    kind: str
    offset: int
    size: int


def read_atoms(path: Path) -> list[Atom]:
    """Top-level ISO/QuickTime boxes; 422 if one runs past the end of the file (truncated)."""
    total = path.stat().st_size
    atoms: list[Atom] = []
    with path.open("rb") as fh:
        offset = 0
        while offset < total:
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                raise _invalid("The video is truncated (incomplete box header); export it again")
            size, kind_raw = struct.unpack(">I4s", header[:8])
            kind = kind_raw.decode("latin-1")
            if size == 1:
                if len(header) < 16:
                    raise _invalid("The video is truncated; export it again")
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = total - offset
            if size < 8:
                raise _invalid("The video's container structure is corrupt; export it again")
            if offset + size > total:
                raise _invalid(
                    f"The video is truncated: its '{kind}' box needs {offset + size:,} bytes "
                    f"but the file has {total:,}; upload the complete file"
                )
            atoms.append(Atom(kind, offset, size))
            offset += size
            if len(atoms) > 10_000:
                raise _invalid("The video's container structure is corrupt; export it again")
    return atoms


def process_video(path: Path, sniffed: Sniffed, *, out_dir: Path, preview_size: int) -> Processed:
    import av

    atoms = read_atoms(path)
    kinds = [a.kind for a in atoms]
    if "moov" not in kinds:
        raise _invalid(
            "The video has no 'moov' index (an unfinished recording or a fragmented stream); "
            "export it again as MP4 or MOV"
        )
    moov = kinds.index("moov")
    faststart = "mdat" not in kinds or moov < kinds.index("mdat")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise _invalid(f"The file cannot be read as a video ({exc}); export it again") from exc
    with container:
        if not container.streams.video:
            raise _invalid("The file has no video track")
        vstream = container.streams.video[0]
        vcodec = vstream.codec_context.name
        coded_w = int(vstream.codec_context.width or 0)
        coded_h = int(vstream.codec_context.height or 0)
        rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
        fps = float(rate) if rate else None
        duration_s: float | None = None
        if container.duration:
            duration_s = container.duration / 1_000_000
        elif vstream.duration and vstream.time_base:
            duration_s = float(vstream.duration * vstream.time_base)
        if not duration_s or duration_s <= 0:
            raise _invalid("The video has no duration (no frames); export it again")
        audio: dict[str, Any] | None = None
        if container.streams.audio:
            astream = container.streams.audio[0]
            audio = {
                "codec": astream.codec_context.name,
                "sample_rate": int(astream.codec_context.sample_rate or 0) or None,
                "channels": int(getattr(astream.codec_context, "channels", 0) or 0) or None,
            }
        frame = _frame_near(container, vstream, THUMBNAIL_AT_SECONDS if duration_s > 1.5 else 0.0)
        rotation_ccw = int(getattr(frame, "rotation", 0) or 0)
        rotation = (-rotation_ccw) % 360  # clockwise degrees to display it, like phones' tag
        image = frame.to_image()
        if rotation_ccw % 360:
            image = image.rotate(rotation_ccw, expand=True)
        facts = video_probe.measure(
            container, kind=sniffed.kind, faststart=faststart, first_frame=frame
        )
        audio_bitrate = video_probe.audio_bitrate_of(container)
        width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
        if image.size != (width, height) and image.width and image.height:
            width, height = image.size
        image.thumbnail((preview_size, preview_size))
        thumb_path = out_dir / "thumb.jpg"
        image.convert("RGB").save(thumb_path, "JPEG", quality=PREVIEW_JPEG_QUALITY)
        format_name = container.format.name

    derived = [Derived("thumbnail", "thumb.jpg", thumb_path, "image/jpeg")]
    publish_bytes = path.stat().st_size
    remuxed = False
    if not faststart:
        publish_path = out_dir / f"publish.{sniffed.ext}"
        try:
            _remux_faststart(path, publish_path, sniffed, rotation_ccw)
            derived.append(
                Derived("publish", f"publish.{sniffed.ext}", publish_path, sniffed.mime_type)
            )
            publish_bytes = publish_path.stat().st_size
            remuxed = True
        except Exception:  # the report says the moov atom is at the end
            with contextlib.suppress(OSError):
                publish_path.unlink()
    metadata: dict[str, Any] = {
        "container": sniffed.kind,
        "format_name": format_name,
        "duration_ms": milliseconds(duration_s),
        "coded_width": coded_w,
        "coded_height": coded_h,
        "rotation": rotation,
        "fps": round(fps, 3) if fps else None,
        "video_codec": vcodec,
        "audio_codec": audio["codec"] if audio else None,
        "audio_sample_rate": audio["sample_rate"] if audio else None,
        "audio_channels": audio["channels"] if audio else None,
        "faststart": faststart,
        "faststart_remuxed": remuxed,
        "pix_fmt": facts.pix_fmt,
        "interlaced": facts.interlaced,
        "closed_gop": facts.closed_gop,
        "video_bitrate": facts.video_bitrate,
        "audio_bitrate": audio_bitrate,
        "publish_bytes": publish_bytes,
        "thumbnail_at_ms": round(float(frame.time or 0) * 1000),
        "atoms": kinds[:20],
    }
    return Processed(
        width=width,
        height=height,
        duration_ms=milliseconds(duration_s),
        metadata=metadata,
        derived=derived,
        publish_bytes=publish_bytes,
    )


def _frame_near(container: Any, vstream: Any, seconds: float) -> Any:
    """The first frame at or after `seconds` (the first frame for 0); 422 if nothing decodes."""
    import av

    try:
        if seconds > 0 and vstream.time_base:
            target = int(seconds / vstream.time_base)
            container.seek(target, stream=vstream, backward=True, any_frame=False)
        first = None
        for count, frame in enumerate(container.decode(vstream)):
            if first is None:
                first = frame
            if frame.time is None or frame.time >= seconds - 0.02 or count > 600:
                return frame
        if first is not None:
            return first
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise _invalid(f"The video cannot be decoded ({exc}); export it again") from exc
    raise _invalid("The video has no decodable frame; export it again")


def _remux_faststart(src: Path, dst: Path, sniffed: Sniffed, rotation_ccw: int) -> None:
    """Copy the streams into a new file with the moov atom first (no re-encoding)."""
    import av

    fmt = "mov" if sniffed.kind == "mov" else "mp4"
    with (
        av.open(str(src), "r") as inp,
        av.open(str(dst), "w", format=fmt, options={"movflags": "faststart"}) as out,
    ):
        mapping: dict[int, Any] = {}
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        for s in streams:
            o: Any = out.add_stream_from_template(s)
            if s.type == "video" and rotation_ccw % 360:
                o.set_display_rotation(rotation_ccw)
            mapping[s.index] = o
        for packet in inp.demux(streams):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


__all__ = [
    "Derived",
    "Processed",
    "process_image",
    "process_video",
    "read_atoms",
    "run_cpu",
]
