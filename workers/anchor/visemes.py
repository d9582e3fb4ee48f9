"""IPA phonemes (as espeak-ng names them) to mouth shapes, and a smoothed per-frame shape track.

The shape set follows Rhubarb Lip Sync's A-H plus X:

    A  closed lips (m, b, p)             E  slightly rounded (o, ɔ, ɚ)
    B  lips apart, teeth together (most  F  puckered (u, w, y)
       consonants, i, ɪ)                 G  upper teeth on lower lip (f, v)
    C  open (e, ɛ, ʌ, ə)                 H  open, tongue up (l)
    D  wide open (a, ɑ, æ)               X  rest, lips relaxed (pauses)

A phoneme name is read character by character, so diphthongs ("aɪ", Mandarin "uei") and
clusters ("ts.h") become short sequences of shapes, and a symbol that is not in the table
(a new espeak name, a language-switch marker) falls back to B or is skipped: the mapping
never fails on input.
"""

from __future__ import annotations

import enum
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


class Shape(enum.StrEnum):
    """A mouth shape (viseme)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    X = "X"


# How far the jaw is open, 0 (closed) to 1 (wide): drives in-betweens and head nods.
OPENNESS: Mapping[Shape, float] = {
    Shape.X: 0.0,
    Shape.A: 0.0,
    Shape.G: 0.15,
    Shape.F: 0.25,
    Shape.B: 0.3,
    Shape.H: 0.5,
    Shape.E: 0.55,
    Shape.C: 0.65,
    Shape.D: 1.0,
}

PAUSE = "_"

_CHAR_SHAPES: Mapping[str, Shape] = {
    **dict.fromkeys("mbpɸβʙ", Shape.A),
    **dict.fromkeys("fvɱʋ", Shape.G),
    **dict.fromkeys("uʊwʍyʏɥʉ", Shape.F),
    **dict.fromkeys("oɔɒɚɝøœɵɞɜ", Shape.E),
    **dict.fromkeys("aɑæɐäɶ", Shape.D),
    **dict.fromkeys("eɛʌəɘɤ", Shape.C),
    **dict.fromkeys("lɫɭʎɬɮʟ", Shape.H),
}

# Marks that change how a sound is said, not which shape the lips make: stress, length,
# espeak's "." (retroflex or apical in Mandarin) and "-" (a variant), tone numbers.
_MODIFIERS = frozenset("ˈˌːˑ.-'0123456789˥˦˧˨˩")


def shapes_for_phoneme(phoneme: str) -> tuple[Shape, ...]:
    """The mouth shapes of one phoneme, in order (two or more for a diphthong).

    Args:
        phoneme: an espeak-ng IPA phoneme name, "_" for a pause.

    Returns:
        Shapes with repeats collapsed; () for a name that carries no sound (espeak's
        language-switch markers such as "(en)"), (X,) for a pause.
    """
    name = phoneme.strip()
    if name in ("", PAUSE):
        return (Shape.X,)
    if name.startswith("("):
        return ()
    shapes: list[Shape] = []
    previous = ""
    for char in unicodedata.normalize("NFD", name):
        if char in _MODIFIERS or unicodedata.combining(char):
            continue
        # An "h" right after a consonant is aspiration ("ph", "tsh"), not a sound of its own.
        is_aspiration = char in "hʰ" and previous != "" and previous not in "aeiouəɛɔɑ"
        previous = char
        if is_aspiration:
            continue
        shape = _CHAR_SHAPES.get(char, Shape.B)
        if not shapes or shapes[-1] != shape:
            shapes.append(shape)
    return tuple(shapes) or (Shape.B,)


@dataclass(frozen=True)
class Segment:
    """A mouth shape held from `start_s` to `end_s` (seconds in the audio)."""

    shape: Shape
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TrackSettings:
    """How the shape track is smoothed.

    Attributes:
        bilabial_lead_s: lips close this long before an m/b/p sound starts.
        min_rest_s: shorter pauses keep the lips apart (B) instead of resting (X).
        min_frames: the shortest a held shape may last, in frames (2 = 80 ms at 25 fps).
        tween_gap: openness difference at which an in-between frame is inserted.
    """

    bilabial_lead_s: float = 0.05
    min_rest_s: float = 0.16
    min_frames: int = 2
    tween_gap: float = 0.5


@dataclass(frozen=True)
class VisemeTrack:
    """One mouth shape per video frame.

    Attributes:
        shapes: the shape drawn at each frame.
        is_tween: True where the frame is an in-between inserted for a smooth transition.
    """

    shapes: tuple[Shape, ...]
    is_tween: tuple[bool, ...]

    def openness(self) -> list[float]:
        return [OPENNESS[shape] for shape in self.shapes]


def phoneme_segments(
    phonemes: Iterable[Mapping[str, object]], *, settings: TrackSettings
) -> list[Segment]:
    """Timed shapes from the tts phoneme timings ({"phoneme", "start_s", "end_s"}, in order).

    Diphthongs split their time evenly; silent markers extend the shape before them; short
    pauses become B; closed lips start `bilabial_lead_s` early, taking time from the
    shape before (which keeps at least half its length).
    """
    raw: list[Segment] = []
    for entry in phonemes:
        start, end = float(entry["start_s"]), float(entry["end_s"])  # type: ignore[arg-type]
        shapes = shapes_for_phoneme(str(entry["phoneme"]))
        if end <= start or not shapes:
            continue
        step = (end - start) / len(shapes)
        raw.extend(
            Segment(shape, start + i * step, start + (i + 1) * step)
            for i, shape in enumerate(shapes)
        )
    return _lead_bilabials(_fill_short_rests(_merge(raw), settings), settings)


def _merge(segments: Sequence[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].shape == segment.shape:
            merged[-1] = Segment(segment.shape, merged[-1].start_s, segment.end_s)
        else:
            merged.append(segment)
    return merged


def _fill_short_rests(segments: list[Segment], settings: TrackSettings) -> list[Segment]:
    filled = [
        Segment(Shape.B, s.start_s, s.end_s)
        if s.shape == Shape.X
        and s.end_s - s.start_s < settings.min_rest_s
        and 0 < i < len(segments) - 1
        else s
        for i, s in enumerate(segments)
    ]
    return _merge(filled)


def _lead_bilabials(segments: list[Segment], settings: TrackSettings) -> list[Segment]:
    result = list(segments)
    for i in range(1, len(result)):
        if result[i].shape != Shape.A:
            continue
        before = result[i - 1]
        lead = min(settings.bilabial_lead_s, (before.end_s - before.start_s) / 2)
        result[i - 1] = Segment(before.shape, before.start_s, before.end_s - lead)
        result[i] = Segment(Shape.A, result[i].start_s - lead, result[i].end_s)
    return result


def build_track(
    segments: Sequence[Segment], *, fps: float, n_frames: int, settings: TrackSettings
) -> VisemeTrack:
    """Sample the segments once per frame, then smooth.

    Frame i shows the shape covering most of [i/fps, (i+1)/fps); closed lips win any frame
    they cover for a quarter of, so short m/b/p closures stay visible. Runs shorter than
    `min_frames` are lengthened (closed lips) or merged into the neighbour of nearest
    openness, and a jump of `tween_gap` or more in openness gets one in-between frame.
    """
    frames = [_frame_shape(segments, i, fps) for i in range(n_frames)]
    runs = _enforce_min_runs(_to_runs(frames), settings.min_frames)
    return _with_tweens(runs, settings)


def _frame_shape(segments: Sequence[Segment], index: int, fps: float) -> Shape:
    start, end = index / fps, (index + 1) / fps
    cover: dict[Shape, float] = {}
    lo, hi = 0, len(segments)
    while lo < hi:  # first segment ending after the frame starts
        mid = (lo + hi) // 2
        if segments[mid].end_s <= start:
            lo = mid + 1
        else:
            hi = mid
    for segment in segments[lo:]:
        if segment.start_s >= end:
            break
        overlap = min(end, segment.end_s) - max(start, segment.start_s)
        cover[segment.shape] = cover.get(segment.shape, 0.0) + max(overlap, 0.0)
    if not cover:
        return Shape.X
    if cover.get(Shape.A, 0.0) >= 0.25 / fps:
        return Shape.A
    return max(cover, key=lambda shape: cover[shape])


def _to_runs(frames: Sequence[Shape]) -> list[tuple[Shape, int]]:
    return _merge_runs([(shape, 1) for shape in frames])


def _enforce_min_runs(runs: list[tuple[Shape, int]], min_frames: int) -> list[tuple[Shape, int]]:
    while len(runs) > 1:
        short = [i for i, (_, length) in enumerate(runs) if length < min_frames]
        if not short:
            break
        runs = _fix_short_run(runs, min(short, key=lambda k: (runs[k][1], k)), min_frames)
    return runs


def _fix_short_run(
    runs: list[tuple[Shape, int]], i: int, min_frames: int
) -> list[tuple[Shape, int]]:
    shape, length = runs[i]
    neighbours = [k for k in (i - 1, i + 1) if 0 <= k < len(runs)]
    donors = [k for k in neighbours if runs[k][1] > min_frames]
    result = list(runs)
    if shape == Shape.A and donors:
        donor = max(donors, key=lambda k: runs[k][1])
        result[donor] = (runs[donor][0], runs[donor][1] - 1)
        result[i] = (shape, length + 1)
        return result
    target = min(
        neighbours,
        key=lambda k: (abs(OPENNESS[runs[k][0]] - OPENNESS[shape]), -runs[k][1]),
    )
    result[target] = (runs[target][0], runs[target][1] + length)
    del result[i]
    return _merge_runs(result)


def _merge_runs(runs: list[tuple[Shape, int]]) -> list[tuple[Shape, int]]:
    merged: list[tuple[Shape, int]] = []
    for shape, length in runs:
        if merged and merged[-1][0] == shape:
            merged[-1] = (shape, merged[-1][1] + length)
        else:
            merged.append((shape, length))
    return merged


def tween_between(first: Shape, second: Shape, *, gap: float) -> Shape | None:
    """The in-between shape for a jump from `first` to `second`, or None when none is needed."""
    low, high = sorted((first, second), key=lambda shape: OPENNESS[shape])
    if OPENNESS[high] - OPENNESS[low] < gap:
        return None
    if high == Shape.D:
        return Shape.E if low == Shape.F else Shape.C
    return Shape.B


def _with_tweens(runs: list[tuple[Shape, int]], settings: TrackSettings) -> VisemeTrack:
    shapes = [shape for shape, length in runs for _ in range(length)]
    tweens = [False] * len(shapes)
    spare = [length - settings.min_frames for _, length in runs]
    starts = [0]
    for _, length in runs:
        starts.append(starts[-1] + length)
    for i in range(len(runs) - 1):
        tween = tween_between(runs[i][0], runs[i + 1][0], gap=settings.tween_gap)
        if tween is None:
            continue
        # Take the frame from whichever side can spare it and still hold its minimum.
        if spare[i + 1] > 0:
            frame, spare[i + 1] = starts[i + 1], spare[i + 1] - 1
        elif spare[i] > 0:
            frame, spare[i] = starts[i + 1] - 1, spare[i] - 1
        else:
            continue
        shapes[frame], tweens[frame] = tween, True
    return VisemeTrack(tuple(shapes), tuple(tweens))


def frame_count(*, duration_s: float, fps: float) -> int:
    """Frames for a video as long as the audio: round(duration x fps), at least one."""
    return max(1, math.floor(duration_s * fps + 0.5))
