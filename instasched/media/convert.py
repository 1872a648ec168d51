"""Make a video fit Meta's format rules with PyAV: remux (moov atom first, streams copied) or
transcode (H.264 High, yuv420p, progressive, closed GOPs, 23-60 fps, at most 1920 px wide,
at most 8 Mbps; AAC 128 kbps, at most 48 kHz, mono or stereo).

The work runs in a child process (`python -m instasched.media.convert SRC DST PLAN KIND CPU`):
the event loop stays free, the child's CPU time is capped with RLIMIT_CPU and its wall time by
the parent, which kills it past `MEDIA_CONVERT_WALL_SECONDS`. docs/video-rules.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from instasched.integrations.instagram import publish_rules as meta

Plan = Literal["remux", "transcode"]
TARGET_FPS = 30
MAX_VIDEO_BITRATE = 8_000_000
AUDIO_BITRATE = meta.AUDIO_ADVISED_BITRATE


class ConversionFailed(Exception):
    """The child process failed, ran out of CPU time or wall time (the message says which)."""


def remux(src: Path, dst: Path, kind: str) -> None:
    """Copy the video and audio streams into a new file with the moov atom first."""
    import av

    fmt = "mov" if kind == "mov" else "mp4"
    with (
        av.open(str(src), "r") as inp,
        av.open(str(dst), "w", format=fmt, options={"movflags": "faststart"}) as out,
    ):
        streams = [s for s in inp.streams if s.type in ("video", "audio")][:2]
        mapping: dict[int, Any] = {s.index: out.add_stream_from_template(s) for s in streams}
        for packet in inp.demux(streams):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def _video_filters(vin: Any, facts: meta.VideoFacts) -> list[tuple[str, str | None]]:
    filters: list[tuple[str, str | None]] = []
    if facts.interlaced:
        filters.append(("yadif", None))
    if facts.fps is not None and not meta.VIDEO_FPS[0] <= facts.fps <= meta.VIDEO_FPS[1]:
        filters.append(("fps", str(TARGET_FPS)))
    width = int(vin.codec_context.width or 0)
    if width > meta.VIDEO_MAX_WIDTH:
        filters.append(("scale", f"{meta.VIDEO_MAX_WIDTH}:-2"))
    filters.append(("format", "yuv420p"))
    return filters


def transcode(src: Path, dst: Path, facts: meta.VideoFacts) -> None:
    """Re-encode to H.264 + AAC in MP4 with the moov atom first (rotation kept)."""
    import av
    import av.filter

    with (
        av.open(str(src), "r") as inp,
        av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=vin)]
        for name, args in _video_filters(vin, facts):
            nodes.append(graph.add(name, args) if args else graph.add(name))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        rate = vin.average_rate or vin.guessed_rate or Fraction(TARGET_FPS)
        if facts.fps is not None and not meta.VIDEO_FPS[0] <= facts.fps <= meta.VIDEO_FPS[1]:
            rate = Fraction(TARGET_FPS)
        vout: Any = out.add_stream("libx264", rate=rate)
        bitrate = min(int(facts.video_bitrate or MAX_VIDEO_BITRATE), MAX_VIDEO_BITRATE)
        width, height = int(vin.codec_context.width), int(vin.codec_context.height)
        if width > meta.VIDEO_MAX_WIDTH:
            width, height = (
                meta.VIDEO_MAX_WIDTH,
                2 * round(height * meta.VIDEO_MAX_WIDTH / width / 2),
            )
        vout.width, vout.height = width, height
        first = next(inp.decode(vin), None)
        rotation = int(getattr(first, "rotation", 0) or 0)
        inp.seek(0)
        if rotation % 360:
            vout.set_display_rotation(rotation)
        vout.pix_fmt = "yuv420p"
        vout.bit_rate = bitrate
        # Closed GOPs are x264's default; said anyway, with a keyframe every 2 s.
        vout.options = {
            "preset": "veryfast",
            "x264-params": f"open-gop=0:keyint={int(rate * 2)}:interlaced=0",
            "maxrate": str(bitrate),
            "bufsize": str(bitrate * 2),
        }
        aout: Any = None
        resampler: Any = None
        if ain is not None:
            rate_in = int(ain.codec_context.sample_rate or 48_000)
            sample_rate = rate_in if rate_in <= meta.AUDIO_MAX_SAMPLE_RATE else 48_000
            channels = int(ain.codec_context.channels or 2)
            layout = "mono" if channels == 1 else "stereo"
            aout = out.add_stream("aac", rate=sample_rate)
            aout.layout = layout
            aout.bit_rate = AUDIO_BITRATE
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        for packet in inp.demux([s for s in (vin, ain) if s is not None]):
            frames: list[Any] = list(packet.decode())
            if packet.stream.type == "video":
                for frame in frames:
                    graph.push(frame)
                    _drain_video(graph, vout, out)
            elif aout is not None:
                for frame in frames:
                    frame.pts = None
                    for resampled in resampler.resample(frame):
                        for p in aout.encode(resampled):
                            out.mux(p)
        graph.push(None)
        _drain_video(graph, vout, out)
        for p in vout.encode():
            out.mux(p)
        if aout is not None:
            for resampled in resampler.resample(None):
                for p in aout.encode(resampled):
                    out.mux(p)
            for p in aout.encode():
                out.mux(p)


def _drain_video(graph: Any, vout: Any, out: Any) -> None:
    import av

    while True:
        try:
            frame = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        frame.pict_type = av.video.frame.PictureType.NONE
        for p in vout.encode(frame):
            out.mux(p)


def probe_facts(src: Path, kind: str) -> meta.VideoFacts:
    import av

    from instasched.integrations.instagram import video_probe

    with open(src, "rb") as fh:
        faststart = video_probe.faststart_of(fh, src.stat().st_size)
    with av.open(str(src), "r") as container:
        first = next(container.decode(container.streams.video[0]), None)
        container.seek(0)
        return video_probe.measure(container, kind=kind, faststart=faststart, first_frame=first)


def convert_file(src: Path, dst: Path, plan: Plan, kind: str) -> None:
    if plan == "remux":
        remux(src, dst, kind)
    else:
        transcode(src, dst, probe_facts(src, kind))


async def run(
    src: Path, dst: Path, *, plan: Plan, kind: str, cpu_seconds: int, wall_seconds: float
) -> None:
    """Convert in a child process bounded in CPU time and wall time."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "instasched.media.convert",
        str(src),
        str(dst),
        plan,
        kind,
        str(cpu_seconds),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=wall_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise ConversionFailed(
            f"the conversion took longer than {wall_seconds:g} s (MEDIA_CONVERT_WALL_SECONDS)"
        ) from None
    except BaseException:  # cancelled: the child must not outlive the request
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        if proc.returncode in (-9, -24):  # SIGKILL / SIGXCPU: the CPU limit
            raise ConversionFailed(
                f"the conversion used more than {cpu_seconds} s of CPU (MEDIA_CONVERT_CPU_SECONDS)"
            )
        last = (err or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ConversionFailed(f"the conversion failed ({last[0][:300]})")


def _main(argv: list[str]) -> int:
    import resource

    src, dst, plan, kind, cpu = argv
    seconds = int(cpu)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    convert_file(Path(src), Path(dst), plan, kind)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
