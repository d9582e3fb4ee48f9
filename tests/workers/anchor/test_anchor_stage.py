"""Tests of the anchor stage on real espeak narration: probed output and measured lip sync."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.media import ffprobe
from workers.anchor.options import AnchorOptions
from workers.anchor.scene import drawn_scene
from workers.engines.avatar2d import Avatar2DEngine
from workers.engines.base import PermanentEngineError
from workers.engines.espeak import EspeakEngine
from workers.media.ffmpeg import ffmpeg_exe
from workers.stages.anchor import AnimateAnchor
from workers.stages.tts import TextToSpeech

FPS = 25
SENTENCES = (
    "Good evening. The harbor bridge opened two weeks early, and commuters saved twenty minutes. "
    "Mayor Lena Ortiz thanked the crews. Cyclists will wait a little longer for the bike lane."
)
ITEM = {
    "custom_id": "harbor-bridge-0412",
    "language": "en",
    "headline": "Harbor bridge reopens early",
}


@pytest.fixture(scope="module")
def engine() -> Avatar2DEngine:
    avatar = Avatar2DEngine()
    avatar.load()
    return avatar


@pytest.fixture(scope="module")
def narration(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real tts output: narration.wav and timings.json for an English paragraph."""
    workdir = tmp_path_factory.mktemp("tts")
    script = workdir / "script.json"
    script.write_text(json.dumps({"language": "en", "text": SENTENCES}), "utf-8")
    espeak = EspeakEngine()
    espeak.load()
    outputs = TextToSpeech().run(
        item={}, inputs={"script": script}, params={}, engine=espeak, workdir=workdir
    )
    return {output.name: output.path for output in outputs}


@pytest.fixture(scope="module")
def video(
    engine: Avatar2DEngine, narration: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
):
    workdir = tmp_path_factory.mktemp("anchor")
    [output] = AnimateAnchor().run(
        item=ITEM, inputs=narration, params={}, engine=engine, workdir=workdir
    )
    return output


def wav_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    return samples, rate


def test_anchor_video_is_h264_yuv420p_720p_25fps_as_long_as_the_audio(video, narration):
    info = ffprobe(video.path)
    [stream] = info["streams"]  # one stream: video only, the compose stage adds the audio
    assert stream["codec_type"] == "video"
    assert stream["codec_name"] == "h264"
    assert stream["profile"] == "High"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (1280, 720)
    assert stream["avg_frame_rate"] == "25/1"
    samples, rate = wav_samples(narration["audio"])
    audio_s = len(samples) / rate
    assert abs(float(stream["duration"]) - audio_s) <= 1 / FPS
    assert abs(video.duration_s - audio_s) <= 1 / FPS
    assert video.media_type == "video/mp4"


def mouth_openness_per_frame(path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    """Dark pixels (the open mouth) in `box` of every decoded frame."""
    x, y, w, h = box
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
        "-vf", f"crop={w}:{h}:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w)
    return (frames < 50).sum(axis=(1, 2)).astype(np.float64)


def audio_energy_per_frame(path: Path, n_frames: int) -> np.ndarray:
    """RMS of the narration over each frame's 40 ms window."""
    samples, rate = wav_samples(path)
    window = rate // FPS
    padded = np.zeros(n_frames * window)
    usable = min(len(samples), len(padded))
    padded[:usable] = samples[:usable]
    return np.sqrt((padded.reshape(n_frames, window) ** 2).mean(axis=1))


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


def test_mouth_movement_is_in_sync_with_the_audio_within_one_frame(video, narration):
    # Given the rendered video and the narration it was made for
    scene = drawn_scene(options=AnchorOptions(), headline="", label="", disclosure="")
    x, y, w, h = scene.mouth_box
    margin = 8  # the head sways a few pixels
    box = (x - margin, y - margin, w + 2 * margin, h + 2 * margin)
    # When mouth openness is measured from the pixels and loudness from the samples
    openness = mouth_openness_per_frame(video.path, box)
    energy = audio_energy_per_frame(narration["audio"], len(openness))
    # Then they correlate best within one frame of zero lag
    lag, score = best_lag(openness, energy, max_lag=5)
    assert abs(lag) <= 1, f"best lag {lag} frames (r={score:.2f})"
    assert score > 0.4, f"mouth and audio barely correlate (r={score:.2f})"


def test_unknown_params_are_refused_by_name(engine, narration, tmp_path):
    with pytest.raises(PermanentEngineError, match="colour_scheme"):
        AnimateAnchor().run(
            item=ITEM,
            inputs=narration,
            params={"colour_scheme": "red"},
            engine=engine,
            workdir=tmp_path,
        )


def test_a_bad_colour_or_an_odd_size_is_refused(engine, narration, tmp_path):
    with pytest.raises(PermanentEngineError, match=r"colors\.primary"):
        AnimateAnchor().run(
            item=ITEM,
            inputs=narration,
            params={"colors": {"primary": "red"}},
            engine=engine,
            workdir=tmp_path,
        )
    with pytest.raises(PermanentEngineError, match="even"):
        AnimateAnchor().run(
            item=ITEM, inputs=narration, params={"width": 1281}, engine=engine, workdir=tmp_path
        )


def test_missing_timings_are_refused(engine, narration, tmp_path):
    with pytest.raises(PermanentEngineError, match="timings"):
        AnimateAnchor().run(
            item=ITEM,
            inputs={"audio": narration["audio"]},
            params={},
            engine=engine,
            workdir=tmp_path,
        )
