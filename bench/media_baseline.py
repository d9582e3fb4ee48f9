"""The physical limit: ffmpeg alone rendering a test pattern to the deliverable's format.

One ffmpeg process: lavfi `testsrc2` (moving colour bars, a clock, noise-free gradients) at the
deliverable's size and rate, plus a 440 Hz sine as the sound track, encoded as the pipeline
encodes (libx264 with `H264Settings`, AAC-LC 48 kHz 160 kb/s, +faststart), optionally with
captions burned in by the same libass filter the compose stage uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from workers.media.ffmpeg import H264Settings, run_ffmpeg

AUDIO_ARGS = ["-c:a", "aac", "-b:a", "160k", "-ar", "48000"]
RENDER_TIMEOUT_S = 900


@dataclass(frozen=True)
class Render:
    """One timed ffmpeg run."""

    duration_s: float  # of the media made
    wall_s: float

    @property
    def wall_per_media_s(self) -> float:
        return self.wall_s / self.duration_s


def render_test_pattern(
    *,
    out_path: Path,
    width: int,
    height: int,
    fps: int,
    duration_s: float,
    h264: H264Settings,
    video_filter: str | None = None,
) -> Render:
    """Encode `duration_s` of testsrc2 + sine into an MP4 in one ffmpeg run; timed.

    Args:
        out_path: the .mp4 to write (overwritten).
        width, height, fps: the picture.
        duration_s: how much media to make.
        h264: the video encoder settings.
        video_filter: an ffmpeg -vf chain applied before encoding (e.g. burned captions).
    """
    video_source = f"testsrc2=size={width}x{height}:rate={fps}"
    filters = ["-vf", f"{video_filter},format=yuv420p"] if video_filter else []
    args = [
        "-f", "lavfi", "-i", video_source,
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{duration_s:.3f}", "-map", "0:v:0", "-map", "1:a:0",
        *filters, *h264.args(fps=fps), *AUDIO_ARGS,
        "-movflags", "+faststart", str(out_path),
    ]  # fmt: skip
    started = time.perf_counter()
    run_ffmpeg(args, timeout_s=RENDER_TIMEOUT_S)
    return Render(duration_s=duration_s, wall_s=time.perf_counter() - started)
