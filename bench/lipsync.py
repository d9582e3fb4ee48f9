"""A/V sync of a finished anchor video: mouth openness from its pixels against narration energy.

The method of tests/workers/anchor/test_anchor_stage.py, applied to the deliverable MP4 rather
than the anchor stage's silent video, so the compose stage's muxing, AAC encoding and edit list
are inside the measurement: per video frame, the count of dark pixels (the open mouth) in the
drawn presenter's mouth box, and the RMS of the decoded audio over that frame's window; the lag
is the shift of best correlation between the two series.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.media.ffmpeg import ffmpeg_exe

SAMPLE_RATE = 48_000
DARK_LEVEL = 50  # 8-bit luma under which a pixel counts as the inside of the open mouth
BOX_MARGIN_PX = 8  # the head sways a few pixels
DECODE_TIMEOUT_S = 300


@dataclass(frozen=True)
class SyncResult:
    """Lag in frames (positive: the picture is late) and the correlation at that lag."""

    lag_frames: int
    correlation: float
    frame_count: int


def mouth_box(*, anchor_params: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(x, y, w, h) around the drawn presenter's lips in frames made with `anchor_params`."""
    from workers.anchor.options import parse_options
    from workers.anchor.scene import drawn_scene

    scene = drawn_scene(options=parse_options(anchor_params), headline="", label="", disclosure="")
    x, y, w, h = scene.mouth_box
    return x - BOX_MARGIN_PX, y - BOX_MARGIN_PX, w + 2 * BOX_MARGIN_PX, h + 2 * BOX_MARGIN_PX


def mouth_openness_per_frame(*, video_path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    """Dark pixels in `box` of every decoded frame, as float64 of shape (frames,)."""
    x, y, w, h = box
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(video_path),
        "-map", "0:v:0", "-vf", f"crop={w}:{h}:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "gray",
        "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True, timeout=DECODE_TIMEOUT_S).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w)
    openness: np.ndarray = (frames < DARK_LEVEL).sum(axis=(1, 2)).astype(np.float64)
    return openness


def audio_energy_per_frame(*, media_path: Path, fps: int, frame_count: int) -> np.ndarray:
    """RMS of the first audio stream (decoded to 48 kHz mono) over each frame's window."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(media_path),
        "-map", "0:a:0", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True, timeout=DECODE_TIMEOUT_S).stdout
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    window = SAMPLE_RATE // fps
    padded = np.zeros(frame_count * window)
    usable = min(len(samples), len(padded))
    padded[:usable] = samples[:usable]
    energy: np.ndarray = np.sqrt((padded.reshape(frame_count, window) ** 2).mean(axis=1))
    return energy


def best_lag(
    video_signal: np.ndarray, audio_signal: np.ndarray, *, max_lag: int
) -> tuple[int, float]:
    """The shift (frames; positive = video late) that best correlates video with audio."""
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            a, b = video_signal[lag:], audio_signal[: len(audio_signal) - lag]
        else:
            a, b = video_signal[:lag], audio_signal[-lag:]
        scores[lag] = float(np.corrcoef(a, b)[0, 1])
    lag = max(scores, key=lambda k: scores[k])
    return lag, scores[lag]


def measure_sync(
    *, video_path: Path, anchor_params: Mapping[str, Any], fps: int, max_lag: int = 5
) -> SyncResult:
    """Lip-sync lag of an MP4 holding the drawn anchor and its narration.

    Args:
        video_path: the composed (or signed) MP4, picture and sound.
        anchor_params: the anchor stage's params (frame size and look decide the mouth box).
        fps: the video's frame rate.
        max_lag: lags searched, in frames either way.
    """
    openness = mouth_openness_per_frame(
        video_path=video_path, box=mouth_box(anchor_params=anchor_params)
    )
    energy = audio_energy_per_frame(media_path=video_path, fps=fps, frame_count=len(openness))
    lag, score = best_lag(openness, energy, max_lag=max_lag)
    return SyncResult(lag_frames=lag, correlation=score, frame_count=len(openness))
