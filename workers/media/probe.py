"""Media probing for the stages: producer/media_probe.py, with the workers' error type."""

from __future__ import annotations

from pathlib import Path

from producer.media_probe import AudioStream, MediaInfo, NotMedia, VideoStream
from producer.media_probe import probe_media as _probe_media
from workers.engines.base import PermanentEngineError

__all__ = ["AudioStream", "MediaInfo", "VideoStream", "media_duration_s", "probe_media"]


def probe_media(path: Path) -> MediaInfo:
    """Read the container header of `path` with ffmpeg.

    Raises:
        PermanentEngineError: ffmpeg cannot open the file as media.
    """
    try:
        return _probe_media(path)
    except NotMedia as error:
        raise PermanentEngineError(str(error)) from None


def media_duration_s(path: Path) -> float:
    """The container's duration in seconds.

    Raises:
        PermanentEngineError: not readable media, or media without a duration (a still).
    """
    duration = probe_media(path).duration_s
    if duration is None:
        raise PermanentEngineError(f"{path.name} has no duration")
    return duration
