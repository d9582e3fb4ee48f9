"""Blinks, head sway and breathing: small, seeded, per-frame motion that keeps the anchor alive.

Everything is drawn from a random generator seeded by the item, so the same item gives the
same video (the stage is a pure function of its inputs) while two items do not blink in step.
Offsets are whole pixels: the sprites are pasted, never resampled, in the frame loop.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EYE_OPEN, EYE_HALF, EYE_CLOSED = 0, 1, 2

# Adults blink every 2-10 s, about 150 ms each; these values keep that range.
_FIRST_BLINK_S = (0.6, 2.2)
_BLINK_GAP_S = 1.6
_BLINK_GAMMA = (2.2, 1.1)
_DOUBLE_BLINK_P = 0.12


@dataclass(frozen=True)
class Motion:
    """Per-frame pose, arrays of length n_frames.

    Attributes:
        head_dx, head_dy: head offset from rest, pixels (includes the body's offset).
        body_dx, body_dy: body offset from rest, pixels.
        eyes: EYE_OPEN, EYE_HALF or EYE_CLOSED.
    """

    head_dx: np.ndarray
    head_dy: np.ndarray
    body_dx: np.ndarray
    body_dy: np.ndarray
    eyes: np.ndarray


def plan_motion(
    *,
    n_frames: int,
    fps: float,
    seed: int,
    openness: Sequence[float],
    unit_px: float,
    is_still: bool = False,
) -> Motion:
    """Blinks for every video; sway, nods and breathing unless `is_still` (photo mode).

    Args:
        n_frames: frames in the video.
        fps: frames per second.
        seed: per-item seed.
        openness: mouth openness per frame (0..1), for nods that follow the speech.
        unit_px: pixels per design unit, so motion scales with the frame.
        is_still: keep head and body still (a photo cannot move its head).
    """
    rng = random.Random(seed)
    eyes = blink_states(n_frames=n_frames, fps=fps, rng=rng)
    zero = np.zeros(n_frames, dtype=np.int32)
    if is_still:
        return Motion(zero, zero.copy(), zero.copy(), zero.copy(), eyes)
    t = np.arange(n_frames, dtype=np.float64) / fps
    sway_x = _smooth_noise(t, rng, amplitude=2.6 * unit_px, periods_s=(9.0, 5.3, 3.1))
    sway_y = _smooth_noise(t, rng, amplitude=1.0 * unit_px, periods_s=(7.7, 4.1))
    nod = _speech_nod(openness, fps=fps) * 2.2 * unit_px
    breath = 0.5 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(3.6, 4.6) + rng.uniform(0, 2 * np.pi))
    body_dx = np.rint(sway_x * 0.35).astype(np.int32)
    body_dy = np.rint(-breath * 1.2 * unit_px).astype(np.int32)  # breathing in lifts
    head_dx = np.rint(sway_x).astype(np.int32)
    head_dy = np.rint(sway_y + nod - breath * 1.2 * unit_px).astype(np.int32)
    return Motion(head_dx, head_dy, body_dx, body_dy, eyes)


def blink_states(*, n_frames: int, fps: float, rng: random.Random) -> np.ndarray:
    """Eye state per frame: a blink closes over ~40 ms, stays shut ~60-100 ms, opens ~50 ms."""
    eyes = np.full(n_frames, EYE_OPEN, dtype=np.int8)
    t = rng.uniform(*_FIRST_BLINK_S)
    duration_s = n_frames / fps
    while t < duration_s:
        _mark_blink(eyes, start_s=t, fps=fps, closed_s=rng.uniform(0.06, 0.1))
        if rng.random() < _DOUBLE_BLINK_P:
            _mark_blink(eyes, start_s=t + 0.32, fps=fps, closed_s=0.06)
        t += _BLINK_GAP_S + rng.gammavariate(*_BLINK_GAMMA)
    return eyes


def _mark_blink(eyes: np.ndarray, *, start_s: float, fps: float, closed_s: float) -> None:
    phases = ((0.04, EYE_HALF), (closed_s, EYE_CLOSED), (0.05, EYE_HALF))
    t = start_s
    for length_s, state in phases:
        first = round(t * fps)
        # At least one frame per phase, so a 25 fps video still shows half-closed lids.
        last = max(first + 1, round((t + length_s) * fps))
        eyes[first : min(last, len(eyes))] = state
        t = last / fps


def _smooth_noise(
    t: np.ndarray, rng: random.Random, *, amplitude: float, periods_s: Sequence[float]
) -> np.ndarray:
    total = np.zeros_like(t)
    for i, period in enumerate(periods_s):
        weight = 1.0 / (i + 1)
        total += weight * np.sin(
            2 * np.pi * t / (period * rng.uniform(0.85, 1.15)) + rng.uniform(0, 2 * np.pi)
        )
    norm = sum(1.0 / (i + 1) for i in range(len(periods_s)))
    return amplitude * total / norm


def _speech_nod(openness: Sequence[float], *, fps: float) -> np.ndarray:
    """A slow dip of the head while speaking, rising back in pauses (0..1)."""
    values = np.asarray(openness, dtype=np.float64)
    if values.size == 0:
        return values
    window = max(1, round(0.5 * fps))
    kernel = np.ones(window) / window
    smooth = np.convolve(values, kernel, mode="same")
    return np.clip(smooth / 0.45, 0.0, 1.0)
