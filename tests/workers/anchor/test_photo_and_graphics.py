"""Tests of photo mode on a drawn portrait, portrait refusal, and the lower-third text."""

from __future__ import annotations

import json
import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.media import ffprobe
from workers.anchor.options import AnchorOptions
from workers.anchor.overlay import ELLIPSIS, font, lower_third, wrap_text
from workers.anchor.photo import MAX_PORTRAIT_PIXELS, load_portrait
from workers.engines.avatar2d import Avatar2DEngine
from workers.engines.base import PermanentEngineError
from workers.media.ffmpeg import ffmpeg_exe
from workers.stages.anchor import AnimateAnchor

MOUTH_BOX = [250, 440, 100, 36]
EYE_BOXES = [[205, 300, 60, 30], [335, 300, 60, 30]]
CHINESE_HEADLINE = "公共图书馆推出六种语言的电子书应用"


@pytest.fixture(scope="module")
def engine() -> Avatar2DEngine:
    avatar = Avatar2DEngine()
    avatar.load()
    return avatar


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two seconds of alternating vowels and pauses: a 16-bit WAV and matching timings."""
    workdir = tmp_path_factory.mktemp("speech")
    rate, phonemes, pcm = 22050, [], []
    for i in range(8):
        start = i * 0.25
        phonemes.append(
            {"phoneme": "ˈɑː" if i % 2 == 0 else "_", "start_s": start, "end_s": start + 0.25}
        )
        t = np.arange(int(0.25 * rate)) / rate
        pcm.append((np.sin(2 * math.pi * 220 * t) * 8000 * (i % 2 == 0)).astype("<i2"))
    audio = workdir / "narration.wav"
    with wave.open(str(audio), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.concatenate(pcm).tobytes())
    timings = workdir / "timings.json"
    timings.write_text(json.dumps({"language": "en", "phonemes": phonemes}), "utf-8")
    return {"audio": audio, "timings": timings}


def draw_portrait(path: Path) -> None:
    """A 600x800 head-and-shoulders drawing: face, eyes with pupils, closed lips."""
    image = Image.new("RGB", (600, 800), (70, 90, 120))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 620, 540, 1000), fill=(40, 40, 60))
    draw.rectangle((255, 520, 345, 660), fill=(200, 150, 120))
    draw.ellipse((160, 160, 440, 560), fill=(214, 166, 134))
    for x, y, w, h in EYE_BOXES:
        draw.ellipse((x + 8, y + 6, x + w - 8, y + h - 6), fill=(245, 245, 240))
        draw.ellipse((x + w // 2 - 7, y + 8, x + w // 2 + 7, y + h - 8), fill=(40, 30, 25))
    x, y, w, h = MOUTH_BOX
    draw.ellipse((x + 10, y + 10, x + w - 10, y + h - 10), fill=(170, 80, 80))
    draw.line((x + 12, y + h // 2, x + w - 12, y + h // 2), fill=(110, 40, 40), width=2)
    image.save(path)


def decode_gray(path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
        "-vf", f"crop={w}:{h}:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w)


def test_photo_mode_opens_the_portraits_mouth_on_vowels_and_closes_it_in_pauses(
    engine, speech, tmp_path
):
    # Given a drawn portrait with explicit mouth and eye regions
    portrait = tmp_path / "portrait.png"
    draw_portrait(portrait)
    params = {"mode": "photo", "mouth_box": MOUTH_BOX, "eye_boxes": EYE_BOXES}
    # When the anchor stage animates it
    [video] = AnimateAnchor().run(
        item={"custom_id": "p1", "language": "en", "title": "Desk lamp"},
        inputs={**speech, "portrait": portrait},
        params=params,
        engine=engine,
        workdir=tmp_path,
    )
    # Then the video has the usual format and the mouth region darkens on the vowels only
    [stream] = ffprobe(video.path)["streams"]
    assert (stream["width"], stream["height"], stream["pix_fmt"]) == (1280, 720, "yuv420p")
    scale = 720 / 800  # the portrait is fitted to the frame height
    left = round(1280 * 0.34 - (MOUTH_BOX[0] + MOUTH_BOX[2] / 2) * scale)
    mx, my = round(MOUTH_BOX[0] * scale) + left, round(MOUTH_BOX[1] * scale)
    frames = decode_gray(video.path, (mx - 10, my - 10, 110, 60))
    dark = (frames < 60).sum(axis=(1, 2))
    middles = {i: divmod((i + 0.5) / 25, 0.25) for i in range(len(dark))}
    middles = {i: int(k) for i, (k, rest) in middles.items() if 0.3 < rest / 0.25 < 0.7}
    vowels = [dark[i] for i, k in middles.items() if k % 2 == 0]
    pauses = [dark[i] for i, k in middles.items() if k % 2 == 1]
    assert len(vowels) >= 4 and len(pauses) >= 4
    assert min(vowels) > 4 * max(pauses) + 20, (vowels, pauses)


def test_a_non_image_portrait_is_refused(engine, speech, tmp_path):
    portrait = tmp_path / "portrait.jpg"
    portrait.write_text("this is not a picture", "utf-8")
    with pytest.raises(PermanentEngineError, match="not a readable image"):
        AnimateAnchor().run(
            item={"custom_id": "p2"},
            inputs={**speech, "portrait": portrait},
            params={"mode": "photo", "mouth_box": MOUTH_BOX, "eye_boxes": EYE_BOXES},
            engine=engine,
            workdir=tmp_path,
        )


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    side = math.isqrt(MAX_PORTRAIT_PIXELS) + 100
    bomb = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(bomb)  # a few kB on disk, 40+ MP once decoded
    with pytest.raises(PermanentEngineError, match="decompression bomb"):
        load_portrait(bomb)


def test_photo_mode_without_a_portrait_is_refused(engine, speech, tmp_path):
    with pytest.raises(PermanentEngineError, match="portrait"):
        AnimateAnchor().run(
            item={}, inputs=speech, params={"mode": "photo"}, engine=engine, workdir=tmp_path
        )


def test_chinese_headline_renders_with_real_glyphs_not_tofu():
    face = font(32)
    missing = face.getmask("\ue000").getbbox()  # a private-use code point: the font's .notdef box
    for char in CHINESE_HEADLINE:
        mask = face.getmask(char)
        assert mask.getbbox() is not None, char
        assert bytes(mask) != bytes(face.getmask("\ue000")) or missing is None, char
    sprite, _ = lower_third(
        width=1280,
        height=720,
        headline=CHINESE_HEADLINE,
        label="新闻",
        palette=AnchorOptions().colors,
    )
    text_pixels = (sprite[..., :3].min(axis=2) > 200) & (sprite[..., 3] > 200)
    assert text_pixels.sum() > 1500


def test_long_headlines_wrap_to_two_lines_and_end_with_an_ellipsis():
    face = font(32)
    headline = "Regional rail strike called off after overnight talks " * 4
    lines = wrap_text(headline, face=face, max_width_px=600)
    assert len(lines) == 2
    assert lines[-1].endswith(ELLIPSIS)
    assert all(face.getlength(line) <= 600 for line in lines)
    chinese = wrap_text(CHINESE_HEADLINE * 3, face=face, max_width_px=400)
    assert len(chinese) == 2 and chinese[-1].endswith(ELLIPSIS)
    assert not any(line.startswith(("，", "。")) for line in chinese)
    [url] = wrap_text("https://example.org/" + "a" * 200, face=face, max_width_px=400)
    assert face.getlength(url) <= 400 and url.endswith(ELLIPSIS)


def has_haar_cascades() -> bool:
    try:
        import cv2
    except ImportError:
        return False
    folder = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "/nonexistent")
    return hasattr(cv2, "CascadeClassifier") and (folder / "haarcascade_eye.xml").exists()


@pytest.mark.skipif(not has_haar_cascades(), reason="this OpenCV ships no Haar cascades (5.x)")
def test_auto_detection_finds_the_mouth_and_eyes_of_the_drawn_presenter():
    from workers.anchor.haar import find_face_regions
    from workers.anchor.scene import drawn_scene

    scene = drawn_scene(options=AnchorOptions(), headline="", label="", disclosure="")
    mouth, (left, right) = find_face_regions(scene.base)
    x, y, w, h = scene.mouth_box
    assert abs((mouth[0] + mouth[2] / 2) - (x + w / 2)) < 25
    assert abs((mouth[1] + mouth[3] / 2) - (y + h / 2)) < 25
    assert left[0] < x + w / 2 < right[0] + right[2]
    assert left[1] < y and right[1] < y


def test_without_shipped_cascades_auto_detection_asks_for_explicit_boxes(
    engine, speech, tmp_path, monkeypatch
):
    cv2 = pytest.importorskip("cv2")
    # OpenCV 5 wheels ship no cascade files: point the lookup at an empty folder
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path / "no-cascades"), raising=False)
    portrait = tmp_path / "portrait.png"
    draw_portrait(portrait)
    with pytest.raises(PermanentEngineError, match="mouth_box and params.eye_boxes"):
        AnimateAnchor().run(
            item={"custom_id": "p3"},
            inputs={**speech, "portrait": portrait},
            params={"mode": "photo"},
            engine=engine,
            workdir=tmp_path,
        )
