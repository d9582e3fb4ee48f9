"""The shot list: which card shows when (timed to the narration), which still the camera is on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from workers.showcase.narration import NarrationParts

# A camera shot lasts about this long; with fewer stills the camera makes several moves.
_SHOT_TARGET_S = 7.0
_MIN_SHOT_S = 2.5
_CROSSFADE_S = 0.6


@dataclass(frozen=True)
class CardCue:
    """A caption card on screen from `start_s` (fade-in begins) to `end_s` (fade-out done).

    Attributes:
        kind: "title", "feature" or "price".
        number: 1-based feature number (0 for title and price).
    """

    kind: str
    number: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Move:
    """A camera move: zoom (1 = photo just covers the frame) and pan, each from -> to.

    Pan is the share of the room the zoom leaves on each side: -1 left/top edge, +1 right/bottom.
    """

    zoom: tuple[float, float]
    pan_x: tuple[float, float]
    pan_y: tuple[float, float]


@dataclass(frozen=True)
class Shot:
    """The camera on one still from `start_s` to `end_s`, easing through `move`."""

    still_index: int
    start_s: float
    end_s: float
    move: Move


# Push in, drift right, pull back, drift left: each ends where the next starts, so one
# still can carry several moves with no cut.
_MOVES = (
    Move(zoom=(1.0, 1.12), pan_x=(0.0, -0.3), pan_y=(0.0, -0.15)),
    Move(zoom=(1.12, 1.15), pan_x=(-0.3, 0.4), pan_y=(-0.15, 0.1)),
    Move(zoom=(1.15, 1.04), pan_x=(0.4, 0.15), pan_y=(0.1, 0.0)),
    Move(zoom=(1.04, 1.13), pan_x=(0.15, -0.35), pan_y=(0.0, 0.2)),
    Move(zoom=(1.13, 1.0), pan_x=(-0.35, 0.0), pan_y=(0.2, 0.0)),
)


def plan_cards(*, parts: NarrationParts, duration_s: float) -> list[CardCue]:
    """Cue the cards: title until the first feature, each feature from the moment its sentence
    starts until the next card, the price from its sentence to the end.

    Returns:
        Cues in time order, back to back; the last ends at `duration_s`.
    """
    starts = [("feature", n + 1, spoken.start_s) for n, (_, spoken) in enumerate(parts.features)]
    if parts.price is not None:
        starts.append(("price", 0, parts.price.start_s))
    cues, previous_kind, previous_number, previous_start = [], "title", 0, 0.0
    for kind, number, start_s in starts:
        if start_s > previous_start:
            cues.append(CardCue(previous_kind, previous_number, previous_start, start_s))
            previous_kind, previous_number, previous_start = kind, number, start_s
    cues.append(CardCue(previous_kind, previous_number, previous_start, duration_s))
    return cues


def plan_shots(*, duration_s: float, still_count: int, cut_points_s: Sequence[float]) -> list[Shot]:
    """Divide the video into camera shots, cutting on card changes where one is near.

    Args:
        duration_s: video length.
        still_count: number of stills; each gets at least one shot, in order, then they repeat.
        cut_points_s: preferred cut times (card starts).

    Returns:
        Back-to-back shots covering [0, duration_s]. Consecutive shots on different stills
        overlap by a crossfade; on the same still the moves chain without a cut.
    """
    count = max(still_count, math.ceil(duration_s / _SHOT_TARGET_S))
    count = max(1, min(count, int(duration_s // _MIN_SHOT_S) or 1))
    bounds = [0.0, *_cut_times(duration_s, count, cut_points_s), duration_s]
    shots = []
    for k in range(count):
        overlap = _CROSSFADE_S / 2 if still_count > 1 else 0.0
        start_s = bounds[k] - (overlap if k > 0 else 0.0)
        end_s = bounds[k + 1] + (overlap if k < count - 1 else 0.0)
        shots.append(Shot(k % still_count, start_s, end_s, _MOVES[k % len(_MOVES)]))
    if still_count == 1 and count > 1:
        shots[-1] = _settle(shots[-1])
    return shots


def _cut_times(duration_s: float, count: int, cut_points_s: Sequence[float]) -> list[float]:
    """Evenly spaced cuts, each moved to the nearest card change within a third of a shot."""
    spacing = duration_s / count
    cuts: list[float] = []
    for k in range(1, count):
        ideal = k * spacing
        near = [c for c in cut_points_s if abs(c - ideal) <= spacing / 3]
        cut = min(near, key=lambda c: abs(c - ideal)) if near else ideal
        floor = (cuts[-1] if cuts else 0.0) + _MIN_SHOT_S
        cuts.append(min(max(cut, floor), duration_s - _MIN_SHOT_S * (count - k)))
    return cuts


def _settle(shot: Shot) -> Shot:
    """A single-still film's last move ends wide: the price card sits on the whole product."""
    move = shot.move
    return Shot(
        shot.still_index,
        shot.start_s,
        shot.end_s,
        Move(zoom=(move.zoom[0], 1.02), pan_x=(move.pan_x[0], 0.0), pan_y=(move.pan_y[0], 0.0)),
    )
