"""Tests of the seeded blinks and head motion."""

from __future__ import annotations

import numpy as np

from workers.anchor.motion import EYE_CLOSED, EYE_OPEN, plan_motion
from workers.anchor.scene import MAX_HEAD_SHIFT

FPS = 25
N_FRAMES = 60 * FPS


def plan(seed: int, *, is_still: bool = False):
    openness = [0.6 if (i // 8) % 2 else 0.1 for i in range(N_FRAMES)]
    return plan_motion(
        n_frames=N_FRAMES, fps=FPS, seed=seed, openness=openness, unit_px=1.0, is_still=is_still
    )


def blink_starts(eyes: np.ndarray) -> list[int]:
    return [i for i in range(1, len(eyes)) if eyes[i] != EYE_OPEN and eyes[i - 1] == EYE_OPEN]


def test_the_same_item_moves_the_same_and_another_item_differently():
    first, again, other = plan(7), plan(7), plan(8)
    assert np.array_equal(first.eyes, again.eyes)
    assert np.array_equal(first.head_dx, again.head_dx)
    assert not np.array_equal(first.eyes, other.eyes)


def test_blinks_come_every_few_seconds_and_close_the_eyes_briefly():
    eyes = plan(7).eyes
    starts = blink_starts(eyes)
    assert 8 <= len(starts) <= 30  # people blink roughly 10-20 times a minute
    closed_runs = np.diff(np.flatnonzero(np.diff(np.r_[0, eyes == EYE_CLOSED, 0])))[::2]
    assert closed_runs.max() <= 3  # at most 120 ms shut at 25 fps
    assert min(np.diff(starts)) >= 0.3 * FPS


def test_the_head_sways_a_few_pixels_and_nods_while_speaking():
    motion = plan(7)
    assert 1 <= np.abs(motion.head_dx).max() <= MAX_HEAD_SHIFT
    assert np.abs(motion.head_dy).max() <= MAX_HEAD_SHIFT
    assert len(np.unique(motion.body_dy)) >= 2  # breathing moves the shoulders


def test_a_photo_keeps_still_but_still_blinks():
    motion = plan(7, is_still=True)
    assert not motion.head_dx.any() and not motion.head_dy.any() and not motion.body_dy.any()
    assert blink_starts(motion.eyes)
