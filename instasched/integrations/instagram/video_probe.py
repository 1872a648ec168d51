"""Measure a video the way Meta's format rules need it (PyAV), once for both sides.

The API's upload (`media.probe`) and the sandbox's container creation call `measure` on an
open PyAV container, then `publish_rules.video_problems` on the result: the upload report and
the sandbox see the same facts. CPU and I/O work: call it in a thread, never on the event loop.

Closed GOP: a keyframe must be an IDR picture (H.264 NAL type 5; HEVC types 19/20). An H.264
recovery-point I frame or an HEVC CRA picture starts an open GOP. Only the first
`GOP_SAMPLE_PACKETS` video packets are read (bounded time on long files).
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from instasched.integrations.instagram.publish_rules import VideoFacts

GOP_SAMPLE_PACKETS = 3_000
_H264_IDR = 5
_HEVC_IDR = (19, 20)
_INTERLACED_FIELD_ORDERS = (2, 3, 4, 5)  # AV_FIELD_TT, BB, TB, BT
_PROGRESSIVE = 1


def faststart_of(fh: BinaryIO, total: int) -> bool | None:
    """True when the top-level 'moov' box comes before 'mdat' (None: not an ISO-BMFF file or
    no moov found)."""
    offset = 0
    seen_mdat = False
    for _ in range(10_000):
        if offset + 8 > total:
            break
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) >= 16:
            size = struct.unpack(">Q", header[8:16])[0]
        elif size == 0:
            size = total - offset
        if size < 8:
            break
        if kind == b"moov":
            return not seen_mdat
        if kind == b"mdat":
            seen_mdat = True
        offset += size
    return None


def _nal_types(data: bytes, length_size: int, hevc: bool) -> list[int]:
    types: list[int] = []
    i = 0
    while i + length_size <= len(data):
        size = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        if size <= 0 or i + size > len(data):
            break
        first = data[i]
        types.append((first >> 1) & 0x3F if hevc else first & 0x1F)
        i += size
    return types


def closed_gop(container: Any, vstream: Any) -> bool | None:
    """False when a sampled keyframe starts an open GOP; None when it cannot be told (a codec
    other than H.264/HEVC, or Annex B streams without a length-prefixed configuration)."""
    name = vstream.codec_context.name
    extradata = bytes(vstream.codec_context.extradata or b"")
    if name == "h264" and len(extradata) > 4 and extradata[0] == 1:
        length_size, hevc = (extradata[4] & 3) + 1, False
    elif name == "hevc" and len(extradata) > 21 and extradata[0] == 1:
        length_size, hevc = (extradata[21] & 3) + 1, True
    else:
        return None
    seen = 0
    try:
        for packet in container.demux(vstream):
            if packet.size == 0:
                continue
            seen += 1
            if packet.is_keyframe:
                types = _nal_types(bytes(packet), length_size, hevc)
                slices = [t for t in types if (16 <= t <= 21 if hevc else t in (1, 5))]
                if slices and not any((t in _HEVC_IDR) if hevc else t == _H264_IDR for t in slices):
                    return False
            if seen >= GOP_SAMPLE_PACKETS:
                break
    finally:
        container.seek(0)
    return True


def interlaced_of(vstream: Any, first_frame: Any | None) -> bool | None:
    order = getattr(vstream.codec_context, "field_order", None)
    if isinstance(order, int) and order in _INTERLACED_FIELD_ORDERS:
        return True
    if first_frame is not None and getattr(first_frame, "interlaced_frame", False):
        return True
    if order == _PROGRESSIVE or first_frame is not None:
        return False
    return None


def measure(
    container: Any, *, kind: str | None, faststart: bool | None, first_frame: Any | None = None
) -> VideoFacts:
    """The facts of an open PyAV input container (its first video and audio streams)."""
    vstream = container.streams.video[0]
    ctx = vstream.codec_context
    rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
    bitrate = vstream.bit_rate or None
    audio = container.streams.audio[0] if container.streams.audio else None
    if bitrate is None and container.bit_rate:
        bitrate = container.bit_rate - ((audio.bit_rate or 0) if audio is not None else 0)
    actx = audio.codec_context if audio is not None else None
    width = int(ctx.width or 0) or None
    rotation = int(getattr(first_frame, "rotation", 0) or 0) if first_frame is not None else 0
    if rotation % 180 and ctx.height:  # shown rotated a quarter turn: its columns are rows
        width = int(ctx.height)
    return VideoFacts(
        container=kind,
        video_codec=ctx.name,
        pix_fmt=ctx.pix_fmt or None,
        interlaced=interlaced_of(vstream, first_frame),
        closed_gop=closed_gop(container, vstream),
        fps=round(float(rate), 3) if rate else None,
        width=width,
        video_bitrate=int(bitrate) if bitrate else None,
        audio_codec=actx.name if actx is not None else None,
        audio_sample_rate=int(actx.sample_rate or 0) or None if actx is not None else None,
        audio_channels=int(getattr(actx, "channels", 0) or 0) or None if actx is not None else None,
        faststart=faststart,
    )


def audio_bitrate_of(container: Any) -> int | None:
    audio = container.streams.audio[0] if container.streams.audio else None
    return int(audio.bit_rate) if audio is not None and audio.bit_rate else None


__all__ = ["audio_bitrate_of", "closed_gop", "faststart_of", "interlaced_of", "measure"]
