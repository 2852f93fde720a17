"""Clips as files (PyAV): probe and refuse, a clean copy to serve, frames sampled at a rate, one frame at a time.

PyAV rather than OpenCV: it copies a stream into a new container without decoding it, so the copy kept and served
carries none of the upload's metadata (GPS, device, creation time) and no audio, at the cost of a file copy; OpenCV can
only re-encode, to codecs browsers do not play. ``bench/video.py`` times both decoders on the same clips.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

# Codecs a browser plays, each with the container it is copied into; any other is kept in Matroska, analysed the same,
# and the page says the browser cannot show it.
PLAYABLE = {"h264": "mp4", "av1": "mp4", "vp8": "webm", "vp9": "webm"}
CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska"}
MUXERS = {"mp4": "mp4", "webm": "webm", "mkv": "matroska"}
ANALYSIS_SIDE = 640  # frames are scaled to this longer side before detection: the detectors downscale to it anyway

STILL_FORMATS = {"image2", "gif", "apng", "webp"}  # FFmpeg reads a photo as a one-frame video: refused here
NOT_A_VIDEO = "The file is not a video this server can read: send an MP4, MOV, WebM or AVI clip."


class InvalidClip(ValueError):
    """An upload refused, with the reason for a person."""


@dataclass(frozen=True)
class ClipInfo:
    duration_s: float
    width: int
    height: int
    codec: str

    @property
    def extension(self) -> str:
        return PLAYABLE.get(self.codec, "mkv")

    @property
    def playable(self) -> bool:
        return self.codec in PLAYABLE


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from the clip's first frame
    image: Image.Image  # RGB, its longer side at most ANALYSIS_SIDE
    scale: float  # clip pixels per pixel of ``image``


def probe(path: Path, *, max_seconds: float) -> ClipInfo:
    """What the clip is; raises ``InvalidClip`` for a file that is no video, holds no frame, or runs too long."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        raise InvalidClip(NOT_A_VIDEO) from None
    with container:
        if container.format.name.endswith("_pipe") or container.format.name in STILL_FORMATS:
            raise InvalidClip("The file is a still picture, not a clip: send photos as photos.")
        if not container.streams.video:
            raise InvalidClip("The file holds no video stream.")
        stream = container.streams.video[0]
        duration = _declared_duration(container, stream)
        if duration is not None and duration > max_seconds:
            raise InvalidClip(_too_long(max_seconds))
        try:
            first = next(iter(container.decode(stream)), None)
        except (av.FFmpegError, ValueError):
            raise InvalidClip(NOT_A_VIDEO) from None
        if first is None:
            raise InvalidClip("The video has no frames.")
        width, height = first.width, first.height
        codec = stream.codec_context.name
    if duration is None:  # no duration in the header (a recording cut short): the packets' last time says it
        duration = _demuxed_duration(path, max_seconds=max_seconds)
    return ClipInfo(duration_s=round(duration, 3), width=width, height=height, codec=codec)


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _demuxed_duration(path: Path, *, max_seconds: float) -> float:
    end = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
            if end > max_seconds:
                raise InvalidClip(_too_long(max_seconds))
    return end


def _too_long(max_seconds: float) -> str:
    return f"The clip is longer than {_minutes(max_seconds)}: cut it into shorter clips."


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


def clean_copy(source: Path, target: Path, info: ClipInfo) -> None:
    """Copy the video stream's packets, undecoded, into a new container at ``target``: no metadata, no audio."""
    with av.open(str(source)) as inp, av.open(str(target), mode="w", format=MUXERS[info.extension]) as out:
        stream = inp.streams.video[0]
        copied = out.add_stream_from_template(stream)
        copied.metadata.clear()
        for packet in inp.demux(stream):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = copied
            out.mux(packet)


def sample_frames(path: Path, *, fps: float, max_seconds: float) -> Iterator[Frame]:
    """The first frame at or after each multiple of ``1 / fps`` seconds, scaled for face detection."""
    step = 1.0 / fps
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding is most of the time at low rates
        start: float | None = None
        due = 0.0
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            t = frame.time - start
            if t > max_seconds + step:
                raise InvalidClip(_too_long(max_seconds))
            if t + 1e-6 < due:
                continue
            yield _scaled(frame, t)
            due = (math.floor(t / step + 1e-6) + 1) * step


def frame_at(path: Path, t: float) -> Image.Image:
    """The clip's frame shown at ``t`` seconds, at full size, RGB."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        target = start + t
        if stream.time_base:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)  # the key frame before
        last = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            if frame.time > target + 1e-3 and last is not None:
                break
            last = frame
        if last is None:
            raise InvalidClip("The clip has no frame at that time.")
        return last.to_image()


def _scaled(frame: av.VideoFrame, t: float) -> Frame:
    scale = max(frame.width, frame.height) / ANALYSIS_SIDE
    if scale <= 1.0:
        return Frame(t=round(t, 3), image=frame.to_image(), scale=1.0)
    width, height = round(frame.width / scale), round(frame.height / scale)
    return Frame(t=round(t, 3), image=frame.to_image(width=width, height=height), scale=scale)


def write_clip(path: Path, images: list[Image.Image], *, fps: int, codec: str = "libx264") -> None:
    """Write ``images`` as a clip at ``fps`` (tests and benchmarks make their clips with this)."""
    container_format = "webm" if codec in ("libvpx", "libvpx-vp9") else None
    with av.open(str(path), mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        width, height = images[0].size
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"} if codec == "libx264" else {}  # near lossless: tests compare frames to photos
        for image in images:
            frame = av.VideoFrame.from_image(image.convert("RGB").resize((stream.width, stream.height)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
