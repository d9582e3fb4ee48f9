"""Tests of the showcase stage on the kenburns engine, fed by the real script and tts stages."""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.media import ffprobe
from workers.engines.base import PermanentEngineError
from workers.engines.espeak import EspeakEngine
from workers.engines.extractive import ExtractiveEngine
from workers.engines.kenburns import KenburnsEngine, ShowcaseRequest
from workers.media.ffmpeg import ffmpeg_exe
from workers.showcase.layout import plan_layout
from workers.showcase.motion import camera_at, view_matrix
from workers.showcase.narration import time_sentences
from workers.showcase.palette import pick_palette
from workers.showcase.price import format_price
from workers.showcase.shots import plan_cards, plan_shots
from workers.showcase.text import missing_glyphs
from workers.stages.base import StageOutput
from workers.stages.script import WriteScript
from workers.stages.showcase import ProductShowcase, audio_duration_s, build_request
from workers.stages.tts import TextToSpeech

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "examples" / "products"
with (CATALOG / "catalog.csv").open(newline="", encoding="utf-8") as catalog:
    PRODUCTS = {row["sku"]: row for row in csv.DictReader(catalog)}
FPS = 25
# A one-feature product: a short narration keeps the full-size renders quick.
SHORT_ITEM = {
    "title": "Terracotta mug",
    "features": "Hand-glazed stoneware",
    "price": "18.00",
    "currency": "EUR",
    "language": "en",
}

Narrate = Callable[[Mapping[str, Any]], dict[str, Path]]


@pytest.fixture(scope="module")
def kenburns() -> KenburnsEngine:
    engine = KenburnsEngine()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def narrate(tmp_path_factory: pytest.TempPathFactory) -> Narrate:
    """Run the real script and tts stages for an item: {"script", "audio", "timings"} paths."""
    writer, speaker = ExtractiveEngine(), EspeakEngine()
    writer.load()
    speaker.load()
    done: dict[str, dict[str, Path]] = {}

    def run(item: Mapping[str, Any]) -> dict[str, Path]:
        key = json.dumps(item, sort_keys=True)
        if key not in done:
            workdir = tmp_path_factory.mktemp("narration")
            (script,) = WriteScript().run(
                item=item,
                inputs={},
                params={"target_duration_s": 20},
                engine=writer,
                workdir=workdir,
            )
            spoken = TextToSpeech().run(
                item=item,
                inputs={"script": script.path},
                params={},
                engine=speaker,
                workdir=workdir,
            )
            done[key] = {"script": script.path, **{o.name: o.path for o in spoken}}
        return done[key]

    return run


@pytest.fixture(scope="module")
def stills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Catalog photos at the 4x upscale's 1280x1280, named as the runner names inputs."""
    folder = tmp_path_factory.mktemp("stills")
    paths = {}
    for index, name in enumerate(("mug-terracotta", "mug-sage")):
        path = folder / f"stills-{index}"
        with Image.open(CATALOG / "images" / f"{name}.jpg") as photo:
            photo.resize((1280, 1280), Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
        paths[name] = path
    return paths


def showcase_inputs(narration: Mapping[str, Path], stills: list[Path]) -> dict[str, Any]:
    return {"stills": stills, **narration}


def render(
    kenburns: KenburnsEngine,
    workdir: Path,
    item: Mapping[str, Any],
    inputs: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> StageOutput:
    (video,) = ProductShowcase().run(
        item=item, inputs=inputs, params=params or {}, engine=kenburns, workdir=workdir
    )
    return video


def decode_gray(path: Path, *, width: int, height: int, crop: str | None = None) -> np.ndarray:
    """Every frame of a video as gray uint8 (frames, height, width), optionally cropped first."""
    filters = ["-vf", f"crop={crop}"] if crop else []
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            *filters,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)


def decode_rgb(path: Path, *, width: int, height: int, fps: float) -> np.ndarray:
    """Frames sampled `fps` times a second as RGB uint8 (frames, height, width, 3)."""
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            f"fps={fps}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def decode_rgb_frame(path: Path, *, time_s: float, width: int, height: int) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            f"{time_s}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def sentence_starts_s(narration: Mapping[str, Path]) -> list[float]:
    """Each script sentence's first spoken word, computed here from the raw files."""
    script = json.loads(narration["script"].read_text("utf-8"))
    words = json.loads(narration["timings"].read_text("utf-8"))["words"]
    starts, position = [], 0
    for sentence in script["sentences"]:
        begin = script["text"].index(sentence, position)
        position = begin + len(sentence)
        starts.append(min(w["start_s"] for w in words if begin <= w["char_start"] < position))
    return starts


def test_showcase_stage_declares_kind_engine_and_video_output() -> None:
    assert ProductShowcase.kind == "showcase"
    assert list(ProductShowcase.engines) == ["kenburns"]
    assert ProductShowcase.engines["kenburns"] is KenburnsEngine
    assert ProductShowcase.outputs == ("video",)
    assert KenburnsEngine.name == "kenburns"
    assert KenburnsEngine.version


def test_feature_and_price_cards_start_within_a_frame_of_their_sentences(
    narrate: Narrate, stills: dict[str, Path]
) -> None:
    # Given the mug's narration: intro, four features, price, sign-off
    item = PRODUCTS["MUG-TC-350"]
    narration = narrate(item)
    request = build_request(
        item=item, inputs=showcase_inputs(narration, [stills["mug-terracotta"]]), params={}
    )
    # When the cards are cued
    cues = plan_cards(parts=request.narration, duration_s=request.duration_s)
    # Then each feature card and the price card start when their sentence starts
    starts = sentence_starts_s(narration)
    assert [c.kind for c in cues] == ["title", "feature", "feature", "feature", "feature", "price"]
    for cue, sentence_start in zip(cues[1:], starts[1:6], strict=True):
        assert abs(round(cue.start_s * FPS) - round(sentence_start * FPS)) <= 1
    assert cues[0].start_s == 0 and cues[-1].end_s == pytest.approx(request.duration_s)
    assert request.text.features[1] == "Dishwasher and microwave safe"
    assert request.text.price == "€18.00" and request.text.call_to_action == "Available now"


def test_the_video_switches_cards_at_the_first_feature_sentence(
    kenburns: KenburnsEngine, narrate: Narrate, stills: dict[str, Path], tmp_path: Path
) -> None:
    # Given a small 16:9 render of the mug
    item = PRODUCTS["MUG-TC-350"]
    narration = narrate(item)
    inputs = showcase_inputs(narration, [stills["mug-terracotta"]])
    video = render(kenburns, tmp_path, item, inputs, {"width": 640, "height": 360})
    # When we measure how much text the card panel shows in each frame
    layout = plan_layout(width=640, height=360)
    panel = layout.panel
    frames = decode_gray(
        video.path, width=panel.w, height=panel.h, crop=f"{panel.w}:{panel.h}:{panel.x}:0"
    )
    seam = 4  # the accent line along the photo is always there
    ink = frames[:, :, seam:].mean(axis=(1, 2))
    # Then the title has faded out and the first feature starts fading in where its sentence
    # starts: the panel is darkest at that frame
    switch = round(sentence_starts_s(narration)[1] * FPS)
    darkest = switch - 8 + int(np.argmin(ink[switch - 8 : switch + 9]))
    assert abs(darkest - switch) <= 1
    assert ink[switch - 12] > ink[switch] + 2 and ink[switch + 12] > ink[switch] + 2


def test_video_is_h264_high_yuv420p_at_the_requested_size_and_lasts_the_audio(
    kenburns: KenburnsEngine, narrate: Narrate, stills: dict[str, Path], tmp_path: Path
) -> None:
    item = PRODUCTS["MUG-TC-350"]
    narration = narrate(item)
    video = render(kenburns, tmp_path, item, showcase_inputs(narration, [stills["mug-terracotta"]]))

    probe = ffprobe(video.path)
    (stream,) = probe["streams"]  # video only: compose adds the voice
    audio_s = audio_duration_s(narration["audio"])
    assert video.name == "video" and video.media_type == "video/mp4"
    assert stream["codec_name"] == "h264" and stream["profile"] == "High"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (1280, 720)
    assert Fraction(stream["avg_frame_rate"]) == FPS
    assert int(stream["nb_frames"]) == round(audio_s * FPS)
    assert abs(float(probe["format"]["duration"]) - audio_s) <= 1 / FPS
    assert video.duration_s == pytest.approx(int(stream["nb_frames"]) / FPS)


@pytest.mark.parametrize(("width", "height"), [(1080, 1920), (1080, 1080), (1920, 1080)])
def test_portrait_square_and_full_hd_videos_keep_every_card_inside_the_frame(
    kenburns: KenburnsEngine,
    narrate: Narrate,
    stills: dict[str, Path],
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    inputs = showcase_inputs(narrate(SHORT_ITEM), [stills["mug-terracotta"]])
    video = render(kenburns, tmp_path, SHORT_ITEM, inputs, {"width": width, "height": height})

    (stream,) = ffprobe(video.path)["streams"]
    assert (stream["width"], stream["height"]) == (width, height)
    layout = plan_layout(width=width, height=height)
    expected = {(1080, 1920): "portrait", (1080, 1080): "square"}.get((width, height), "landscape")
    assert layout.orientation == expected
    if layout.orientation == "portrait":  # photo band on top, cards below it
        assert layout.photo.y == 0 and layout.panel.y == layout.photo.h
        assert layout.photo.h == width
    # The last frame shows the price card on a panel, nowhere cut off at the frame's edges.
    assert video.duration_s is not None
    frame = decode_rgb_frame(video.path, time_s=video.duration_s - 0.2, width=width, height=height)
    rows, cols = layout.panel.slices
    assert frame[rows, cols].max() > 200  # text is drawn in the panel
    edge = max(4, width // 100)
    panel_bottom = frame[layout.height - edge :, layout.panel.x + edge :]  # past the seam
    assert panel_bottom.max() - panel_bottom.min() < 60  # nothing runs off the bottom


def test_chinese_product_renders_with_glyphs_for_every_character(
    kenburns: KenburnsEngine, narrate: Narrate, stills: dict[str, Path], tmp_path: Path
) -> None:
    item = PRODUCTS["MUG-TC-350-ZH"]
    inputs = showcase_inputs(narrate(item), [stills["mug-terracotta"]])
    request = build_request(item=item, inputs=inputs, params={"brand": "陶舍"})
    shown = [
        request.text.title,
        *request.text.features,
        request.text.price,
        request.text.call_to_action,
        request.text.brand,
    ]

    assert missing_glyphs("".join(shown)) == set()
    assert request.text.features == ("手工上釉粗陶", "可用洗碗机和微波炉", "容量350毫升")
    assert request.text.price == "¥128.00" and request.text.call_to_action == "现已有售"
    video = render(kenburns, tmp_path, item, inputs, {"width": 640, "height": 360})
    assert ffprobe(video.path)["streams"][0]["codec_name"] == "h264"


def test_glyph_check_notices_characters_the_font_lacks() -> None:
    assert missing_glyphs("Thai ก and emoji 😀 but 中文 fine") == {"ก", "😀"}


def test_two_stills_are_both_shown_in_order(
    kenburns: KenburnsEngine, narrate: Narrate, stills: dict[str, Path], tmp_path: Path
) -> None:
    # Given a terracotta mug then a sage mug
    item = PRODUCTS["MUG-TC-350"]
    inputs = showcase_inputs(narrate(item), [stills["mug-terracotta"], stills["mug-sage"]])
    video = render(kenburns, tmp_path, item, inputs, {"width": 640, "height": 360})
    # When the photo column is sampled twice a second
    frames = decode_rgb(video.path, width=640, height=360, fps=2)[:, :, :360].astype(float)
    redness = frames[..., 0].mean(axis=(1, 2)) - frames[..., 1].mean(axis=(1, 2))
    # Then it opens on the terracotta (red over green) and later shows the sage (green over red)
    assert redness[1] > 10
    assert (redness < 0).any()


def test_shots_cover_the_video_and_use_every_still() -> None:
    shots = plan_shots(duration_s=20.0, still_count=3, cut_points_s=[4.1, 9.0, 13.2])

    assert [s.still_index for s in shots][:3] == [0, 1, 2]
    assert shots[0].start_s == 0 and shots[-1].end_s == 20.0
    for before, after in zip(shots, shots[1:], strict=False):
        assert after.start_s < before.end_s  # a crossfade, never a gap
    assert any(abs(s.start_s + 0.3 - c) < 1e-9 for s in shots for c in (4.1, 9.0, 13.2))


def test_camera_moves_smoothly_by_fractions_of_a_pixel_per_frame() -> None:
    # Given a 30 s single-still film, sampled every frame
    shots = plan_shots(duration_s=30.0, still_count=1, cut_points_s=[])
    matrices = []
    for index in range(30 * FPS):
        time_s = index / FPS
        shot = next(s for s in shots if s.start_s <= time_s < s.end_s)
        camera = camera_at(shot=shot, time_s=time_s)
        matrices.append(
            view_matrix(camera=camera, still_w=1296, still_h=1296, area_w=1080, area_h=1080)
        )
    # Then what shows at the frame's corners and centre moves under a pixel per frame, evenly
    on_screen = np.array([[0, 0, 1], [1079, 1079, 1], [540, 540, 1]], float).T
    steps = []
    for before, after in zip(matrices, matrices[1:], strict=False):
        source = np.linalg.solve(before[:, :2], on_screen[:2] - before[:, 2:])
        steps.append(after[:, :2] @ source + after[:, 2:] - on_screen[:2])
    speed = np.abs(np.array(steps))
    assert speed.max() < 1.0
    assert np.abs(np.diff(np.array(steps), axis=0)).max() < 0.05
    assert speed.max() > 0.05  # and it does move


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_bad_still_is_refused_before_decoding(
    kenburns: KenburnsEngine, narrate: Narrate, tmp_path: Path
) -> None:
    item = PRODUCTS["MUG-TC-350"]
    narration = narrate(item)
    text_file = tmp_path / "stills-0"
    text_file.write_text("not a photo", "utf-8")
    # A PNG header claiming 8000x8000 pixels, with no pixel data behind it.
    bomb = tmp_path / "stills-1"
    header = struct.pack(">IIBBBBB", 8000, 8000, 8, 2, 0, 0, 0)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b""))

    with pytest.raises(PermanentEngineError, match="not an image"):
        render(kenburns, tmp_path, item, showcase_inputs(narration, [text_file]))
    with pytest.raises(PermanentEngineError, match="pixel limit"):
        render(kenburns, tmp_path, item, showcase_inputs(narration, [bomb]))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"duration": 3}, "unknown showcase parameter.*duration"),
        ({"width": 641}, "params.width must be even"),
        ({"fps": 0}, "params.fps"),
        ({"colors": {"accent": "orange"}}, "params.colors.accent"),
        ({"colors": {"shadow": "#000000"}}, "unknown colour params.colors.shadow"),
        ({"preset": "warp"}, "params.preset"),
        ({"crf": 60}, "params.crf"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    narrate: Narrate, stills: dict[str, Path], params: dict[str, Any], message: str
) -> None:
    inputs = showcase_inputs(narrate(SHORT_ITEM), [stills["mug-terracotta"]])
    with pytest.raises(PermanentEngineError, match=message):
        build_request(item=SHORT_ITEM, inputs=inputs, params=params)


def test_item_without_a_price_is_refused(narrate: Narrate, stills: dict[str, Path]) -> None:
    inputs = showcase_inputs(narrate(SHORT_ITEM), [stills["mug-terracotta"]])
    with pytest.raises(PermanentEngineError, match="price"):
        build_request(item={**SHORT_ITEM, "price": ""}, inputs=inputs, params={})


@pytest.mark.parametrize(
    ("amount", "currency", "language", "written"),
    [
        ("18.00", "EUR", "en", "€18.00"),
        ("18", "EUR", "es", "18,00\u00a0€"),
        ("12500.5", "EUR", "es", "12.500,50\u00a0€"),
        ("29.00", "USD", "es-MX", "29.00\u00a0US$"),
        ("128.00", "CNY", "zh", "¥128.00"),
        ("1200", "JPY", "en", "¥1,200"),
        ("18.00", "CHF", "en", "CHF\u00a018.00"),
    ],
)
def test_prices_are_written_per_currency_and_language(
    amount: str, currency: str, language: str, written: str
) -> None:
    assert format_price(amount=Decimal(amount), currency=currency, language=language) == written


def test_card_colours_come_from_the_photo_unless_the_template_sets_them(
    stills: dict[str, Path],
) -> None:
    with Image.open(stills["mug-terracotta"]) as photo:
        pixels = np.asarray(photo.convert("RGB"))

    picked = pick_palette(photo=pixels, overrides={})
    red, green, blue = picked.accent
    assert red > green > blue  # terracotta orange
    assert max(picked.background) < 60  # a deep backdrop for light text
    chosen = pick_palette(photo=pixels, overrides={"accent": (0, 90, 200)})
    assert chosen.accent == (0, 90, 200)


def test_sentences_are_timed_from_word_char_offsets() -> None:
    script = {"text": "Hello there. Bye now.", "sentences": ["Hello there.", "Bye now."]}
    words = [
        {"char_start": 0, "start_s": 0.1, "end_s": 0.4},
        {"char_start": 6, "start_s": 0.5, "end_s": 0.9},
        {"char_start": 13, "start_s": 1.3, "end_s": 1.5},
        {"char_start": 17, "start_s": 1.6, "end_s": 2.0},
    ]

    first, second = time_sentences(script=script, words=words)
    assert (first.start_s, first.end_s) == (0.1, 0.9)
    assert (second.start_s, second.end_s) == (1.3, 2.0)


def test_request_carries_the_stills_in_order(narrate: Narrate, stills: dict[str, Path]) -> None:
    ordered = [stills["mug-sage"], stills["mug-terracotta"]]
    request: ShowcaseRequest = build_request(
        item=SHORT_ITEM, inputs=showcase_inputs(narrate(SHORT_ITEM), ordered), params={}
    )
    assert request.still_paths == tuple(ordered)


def test_item_in_a_language_without_price_rules_is_refused(
    narrate: Narrate, stills: dict[str, Path]
) -> None:
    inputs = showcase_inputs(narrate(SHORT_ITEM), [stills["mug-terracotta"]])
    with pytest.raises(PermanentEngineError, match="language 'fr' is not supported"):
        build_request(item={**SHORT_ITEM, "language": "fr"}, inputs=inputs, params={})
