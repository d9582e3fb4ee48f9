"""Tests of the phoneme-to-mouth-shape mapping and the smoothed per-frame shape track."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workers.anchor.visemes import (
    OPENNESS,
    Segment,
    Shape,
    TrackSettings,
    build_track,
    frame_count,
    phoneme_segments,
    shapes_for_phoneme,
    tween_between,
)

# Phoneme names espeak-ng emitted for the sample articles (en-us, cmn, es voices).
ENGLISH = (
    "_ aɪ aɪɚ aʊ b d dʒ eɪ f h i iə iː j k l m n oʊ p s t tʃ uː v w z æ ð ŋ ɐ ɔː ɔːɹ ə əl ɚ ɛ"
    " ɡ ɪ ɹ ɾ ʃ ʊ ʌ ʒ ˈaɪ ˈɑː ˈɔɪ ˈɜː ˈɪɹ θ ᵻ"
)
MANDARIN = (
    "(cmn) (en) ai f i. iɛ kh ph s. ts. ts.h tsh tɕ tɕh u o- ou ŋ ɑu ɕ ər ʐ ˈa ˈi̪ ˈiou"
    " ˈonɡ ˈuei ˈua ˈy ˈyæ χ"
)
SPANISH = "a b e i o u x ð ɣ ɲ ɾ r ʎ ʝ ˈa ˈeʊ β θ"
SETTINGS = TrackSettings()


def test_bilabials_close_the_lips():
    for phoneme in ("m", "b", "p", "ph", "β"):
        assert shapes_for_phoneme(phoneme) == (Shape.A,), phoneme


def test_labiodentals_put_the_teeth_on_the_lip():
    assert shapes_for_phoneme("f") == (Shape.G,)
    assert shapes_for_phoneme("v") == (Shape.G,)


def test_rounded_sounds_pucker_and_open_vowels_open_wide():
    for phoneme in ("w", "uː", "ˈuː", "ʊ", "ˈy"):
        assert shapes_for_phoneme(phoneme) == (Shape.F,), phoneme
    for phoneme in ("ˈɑː", "a", "ˈæ", "ɐ"):
        assert shapes_for_phoneme(phoneme) == (Shape.D,), phoneme
    assert shapes_for_phoneme("ˈiː") == (Shape.B,)  # wide, lips apart, teeth close
    assert shapes_for_phoneme("l") == (Shape.H,)


def test_diphthongs_become_a_sequence_of_shapes():
    assert shapes_for_phoneme("ˈaɪ") == (Shape.D, Shape.B)
    assert shapes_for_phoneme("oʊ") == (Shape.E, Shape.F)
    assert shapes_for_phoneme("ˈuei") == (Shape.F, Shape.C, Shape.B)


def test_pauses_rest_and_language_markers_carry_no_shape():
    assert shapes_for_phoneme("_") == (Shape.X,)
    assert shapes_for_phoneme("(en)") == ()
    assert shapes_for_phoneme("(cmn)") == ()


def test_every_phoneme_of_the_three_sample_languages_has_a_shape():
    for inventory in (ENGLISH, MANDARIN, SPANISH):
        for phoneme in inventory.split():
            shapes = shapes_for_phoneme(phoneme)
            assert all(isinstance(shape, Shape) for shape in shapes), phoneme
            assert shapes or phoneme.startswith("("), phoneme


@given(st.text(max_size=12))
def test_any_phoneme_name_maps_without_failing(name):
    shapes = shapes_for_phoneme(name)
    assert all(isinstance(shape, Shape) for shape in shapes)


def test_closed_lips_start_shortly_before_the_bilabial_sound():
    phonemes = [
        {"phoneme": "ə", "start_s": 0.0, "end_s": 0.2},
        {"phoneme": "m", "start_s": 0.2, "end_s": 0.3},
        {"phoneme": "ˈɑː", "start_s": 0.3, "end_s": 0.5},
    ]
    segments = phoneme_segments(phonemes, settings=SETTINGS)
    closed = next(s for s in segments if s.shape == Shape.A)
    assert closed.start_s == 0.2 - SETTINGS.bilabial_lead_s
    assert closed.end_s == 0.3


def test_short_pauses_keep_the_lips_apart_and_long_ones_rest():
    phonemes = [
        {"phoneme": "ˈɑː", "start_s": 0.0, "end_s": 0.2},
        {"phoneme": "_", "start_s": 0.2, "end_s": 0.24},
        {"phoneme": "ˈɑː", "start_s": 0.24, "end_s": 0.4},
        {"phoneme": "_", "start_s": 0.4, "end_s": 0.9},
        {"phoneme": "ˈɑː", "start_s": 0.9, "end_s": 1.0},
    ]
    shapes = [s.shape for s in phoneme_segments(phonemes, settings=SETTINGS)]
    assert shapes == [Shape.D, Shape.B, Shape.D, Shape.X, Shape.D]


def test_frame_count_matches_the_audio_within_half_a_frame():
    assert frame_count(duration_s=2.0, fps=25) == 50
    assert frame_count(duration_s=2.019, fps=25) == 50
    assert frame_count(duration_s=2.021, fps=25) == 51
    assert frame_count(duration_s=0.001, fps=25) == 1


_timed_phonemes = st.lists(
    st.tuples(
        st.sampled_from((ENGLISH + " " + MANDARIN + " " + SPANISH).split()), st.floats(0.005, 0.3)
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_timed_phonemes)
def test_held_shapes_last_at_least_the_minimum_and_in_betweens_one_frame(timed):
    # Given random phonemes with random durations, some far shorter than a frame
    phonemes, t = [], 0.0
    for name, length in timed:
        phonemes.append({"phoneme": name, "start_s": t, "end_s": t + length})
        t += length
    n_frames = frame_count(duration_s=t, fps=25)
    # When the track is built
    track = build_track(
        phoneme_segments(phonemes, settings=SETTINGS), fps=25, n_frames=n_frames, settings=SETTINGS
    )
    # Then every run of a held shape is at least min_frames long (unless the clip is shorter)
    assert len(track.shapes) == n_frames
    runs = _runs(track.shapes, track.is_tween)
    if len(runs) > 1:
        assert all(length >= SETTINGS.min_frames for shape, length, tween in runs if not tween)
    # And an in-between is one frame whose openness lies between its neighbours
    for i, (shape, length, tween) in enumerate(runs):
        if tween:
            assert length == 1
            before, after = (
                runs[i - 1][0] if i else None,
                runs[i + 1][0] if i + 1 < len(runs) else None,
            )
            neighbours = [OPENNESS[s] for s in (before, after) if s is not None]
            assert min(neighbours) <= OPENNESS[shape] <= max(neighbours)


def _runs(shapes, tweens):
    runs = []
    for shape, tween in zip(shapes, tweens, strict=True):
        if runs and runs[-1][0] == shape and runs[-1][2] == tween and not tween:
            runs[-1][1] += 1
        else:
            runs.append([shape, 1, tween])
    return runs


def test_a_wide_jump_gets_an_in_between_shape():
    assert tween_between(Shape.A, Shape.D, gap=0.5) == Shape.C
    assert tween_between(Shape.D, Shape.F, gap=0.5) == Shape.E
    assert tween_between(Shape.B, Shape.C, gap=0.5) is None
    segments = [Segment(Shape.A, 0.0, 0.2), Segment(Shape.D, 0.2, 0.6)]
    track = build_track(segments, fps=25, n_frames=15, settings=SETTINGS)
    assert track.shapes[:6] == (Shape.A,) * 5 + (Shape.C,)
    assert track.is_tween[5]


def test_a_lone_frame_of_another_shape_is_absorbed_so_the_mouth_does_not_flicker():
    segments = [
        Segment(Shape.C, 0.0, 0.2),
        Segment(Shape.E, 0.2, 0.24),
        Segment(Shape.C, 0.24, 0.5),
    ]
    track = build_track(segments, fps=25, n_frames=12, settings=SETTINGS)
    assert set(track.shapes) == {Shape.C}


def test_a_short_bilabial_closure_stays_visible():
    segments = [
        Segment(Shape.C, 0.0, 0.3),
        Segment(Shape.A, 0.3, 0.33),
        Segment(Shape.C, 0.33, 0.6),
    ]
    track = build_track(segments, fps=25, n_frames=15, settings=SETTINGS)
    assert track.shapes.count(Shape.A) >= SETTINGS.min_frames
