"""What a media file holds (streams, codecs, sizes, rates), read from ffmpeg's header dump.

Shared by the API (limits on uploaded files) and the workers (workers/media/probe.py).
imageio-ffmpeg ships no ffprobe, so this parses the stream lines `ffmpeg -i` prints, e.g.
`Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709,
progressive), 1280x720 [SAR 1:1 DAR 16:9], 3127 kb/s, 25 fps, 25 tbr, 12800 tbn (default)`.
Only the first video and the first audio stream are read; nothing is decoded.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary of the imageio-ffmpeg wheel (it ships no ffprobe)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class NotMedia(ValueError):
    """ffmpeg cannot open the file as media."""


_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(
    r"Stream #\d+:\d+\S*: Video: (?P<codec>\w+)(?: \((?P<profile>[^)/]+)\))?[^,]*, "
    r"(?P<pix_fmt>\w+)(?:\([^)]*\))?, (?P<width>\d+)x(?P<height>\d+)(?P<rest>.*)"
)
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) fps")
_AUDIO = re.compile(
    r"Stream #\d+:\d+\S*: Audio: (?P<codec>\w+)[^,]*, (?P<rate>\d+) Hz, (?P<layout>[^,]+)"
)


@dataclass(frozen=True)
class VideoStream:
    """The first video stream. `profile` is ffmpeg's name ("High"), None when not printed."""

    codec: str
    profile: str | None
    pix_fmt: str
    width: int
    height: int
    fps: float | None


@dataclass(frozen=True)
class AudioStream:
    """The first audio stream. `layout` is ffmpeg's channel layout name ("mono", "stereo")."""

    codec: str
    sample_rate: int
    layout: str


@dataclass(frozen=True)
class MediaInfo:
    """A container's duration (None for still images) and its first video and audio streams."""

    duration_s: float | None
    video: VideoStream | None
    audio: AudioStream | None


def probe_media(path: Path) -> MediaInfo:
    """Read the container header of `path` with ffmpeg.

    Raises:
        NotMedia: ffmpeg cannot open the file as media.
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    log = result.stderr
    if "Stream #" not in log:
        last = log.strip().splitlines()[-1:] or ["no output"]
        raise NotMedia(f"not a readable media file: {last[0]}")
    return MediaInfo(duration_s=_duration_s(log), video=_video(log), audio=_audio(log))


def _duration_s(log: str) -> float | None:
    match = _DURATION.search(log)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _video(log: str) -> VideoStream | None:
    match = _VIDEO.search(log)
    if not match:
        return None
    fps = _FPS.search(match["rest"])
    return VideoStream(
        codec=match["codec"],
        profile=match["profile"],
        pix_fmt=match["pix_fmt"],
        width=int(match["width"]),
        height=int(match["height"]),
        fps=float(fps[1]) * (1000 if fps[2] else 1) if fps else None,
    )


def _audio(log: str) -> AudioStream | None:
    match = _AUDIO.search(log)
    if not match:
        return None
    return AudioStream(
        codec=match["codec"], sample_rate=int(match["rate"]), layout=match["layout"].strip()
    )
