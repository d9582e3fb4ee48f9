"""Tests of the compose stage on the ffmpeg engine, checked with ffprobe and EBU R128 meters."""

from __future__ import annotations

import importlib.util
import json
import re
import wave
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.media import ffprobe
from workers.engines.base import PermanentEngineError
from workers.engines.espeak import EspeakEngine
from workers.engines.ffmpeg_compose import FfmpegComposeEngine
from workers.media.ffmpeg import H264Settings, run_ffmpeg
from workers.stages.base import StageOutput
from workers.stages.compose import Compose
from workers.stages.tts import write_wav

FPS = 25
NARRATION = "Good morning. Markets rose today, and the city opened its new bridge to cyclists."
CUE = (0.5, 3.0)  # seconds: the burn-in test's caption is on screen in between
HAS_BURN_IN = importlib.util.find_spec("workers.captions.burnin") is not None


@pytest.fixture(scope="module")
def engine() -> FfmpegComposeEngine:
    ffmpeg = FfmpegComposeEngine()
    ffmpeg.load()
    return ffmpeg


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs made once: an espeak narration, video-only H.264 clips, a tone, an SRT."""
    folder = tmp_path_factory.mktemp("compose-inputs")
    espeak = EspeakEngine()
    espeak.load()
    narration = folder / "narration.wav"
    write_wav(narration, espeak.synthesize(NARRATION, language="en", rate_wpm=170))
    duration_s = wav_duration_s(narration)
    paths = {
        "narration": narration,
        # as the anchor stage draws it: round(duration x fps) frames
        "video": _testsrc(folder / "video.mp4", 1280, 720, round(duration_s * FPS) / FPS),
        "video_long": _testsrc(folder / "long.mp4", 1280, 720, duration_s + 1),
        "video_short": _testsrc(folder / "short.mp4", 1280, 720, 1),
        "video_portrait": _testsrc(folder / "portrait.mp4", 360, 640, 1),
        "tone": folder / "tone.wav",
        "silence": folder / "silence.wav",
        "srt": folder / "captions.srt",
    }
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=330:d=1.5:sample_rate=48000", str(paths["tone"])])
    run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "2", str(paths["silence"])])
    start, end = (f"00:00:0{t:.3f}".replace(".", ",") for t in CUE)
    paths["srt"].write_text(f"1\n{start} --> {end}\nMarkets rose today\n市场今天上涨\n", "utf-8")
    return paths


def _testsrc(path: Path, width: int, height: int, duration_s: float) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={FPS}:d={duration_s:.3f}",
                *H264Settings().args(fps=FPS), str(path)])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def compose(
    engine: FfmpegComposeEngine, media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., dict[str, StageOutput]]]:
    """Run the stage once per distinct (video, audio, params, subtitles) and share the result."""
    done: dict[str, dict[str, StageOutput]] = {}

    def run(
        *, video: str = "video", audio: str = "narration", subtitles: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, StageOutput]:  # fmt: skip
        key = json.dumps([video, audio, subtitles, params], sort_keys=True)
        if key not in done:
            inputs = {"video": media[video], "audio": media[audio]}
            if subtitles:
                inputs["subtitles"] = media["srt"]
            outputs = Compose().run(
                item={}, inputs=inputs, params=params or {}, engine=engine,
                workdir=tmp_path_factory.mktemp("compose"),
            )  # fmt: skip
            done[key] = {output.name: output for output in outputs}
        return done[key]

    yield run


def wav_duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def streams_by_type(path: Path) -> dict[str, dict[str, Any]]:
    return {stream["codec_type"]: stream for stream in ffprobe(path)["streams"]}


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ftyp, moov, mdat, ...)."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        offset += size if size else len(data)
    return boxes


def video_packet_hashes(path: Path) -> list[str]:
    """MD5 of each stored video packet: equal lists mean the video was stream-copied."""
    listing = path.with_name(path.stem + ".video.framemd5")
    run_ffmpeg(["-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5", str(listing)])
    lines = listing.read_text().splitlines()
    return [line.rsplit(",", 1)[-1].strip() for line in lines if not line.startswith("#")]


def frame_at(path: Path, at_s: float) -> np.ndarray:
    """The RGB frame shown at `at_s`, as a (height, width, 3) int array."""
    png = path.with_name(f"{path.stem}-{at_s:.2f}.png")
    run_ffmpeg(["-ss", f"{at_s:.3f}", "-i", str(path), "-frames:v", "1", "-update", "1", str(png)])
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def integrated_lufs_by_loudnorm(path: Path) -> float:
    """An independent meter: ffmpeg's loudnorm analysis (the stage measures with ebur128)."""
    log = run_ffmpeg(["-nostats", "-i", str(path), "-map", "0:a", "-af",
                      "loudnorm=print_format=json", "-f", "null", "-"])  # fmt: skip
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", log)
    assert match, log[-500:]
    return float(json.loads(match[0])["input_i"])


def test_copy_mode_gives_h264_high_and_aac_48k_with_the_video_untouched(
    compose: Callable[..., dict[str, StageOutput]], media: dict[str, Path]
) -> None:
    output = compose()["video"]

    assert output.media_type == "video/mp4"
    streams = streams_by_type(output.path)
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["width"], video["height"]) == (1280, 720)
    assert (audio["codec_name"], audio["profile"], audio["sample_rate"]) == ("aac", "LC", "48000")
    assert audio["channels"] == 1  # the narration is mono
    # Then the packets are the input's own: copied, not re-encoded
    copied = video_packet_hashes(output.path)
    assert copied == video_packet_hashes(media["video"])


def test_moov_comes_before_mdat_for_fast_start(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    boxes = top_level_boxes(compose()["video"].path)

    assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize("video", ["video", "video_long"])
def test_video_lasts_as_long_as_the_narration_within_one_frame(
    compose: Callable[..., dict[str, StageOutput]], media: dict[str, Path], video: str
) -> None:
    narration_s = wav_duration_s(media["narration"])

    output = compose(video=video)["video"]

    streams = streams_by_type(output.path)
    assert float(streams["video"]["duration"]) == pytest.approx(narration_s, abs=1 / FPS)
    assert float(streams["audio"]["duration"]) == pytest.approx(narration_s, abs=1 / FPS)
    assert output.duration_s == pytest.approx(narration_s, abs=1e-6)


@pytest.mark.parametrize("target_lufs", [-16, -23])
def test_loudness_lands_within_one_lu_of_the_target(
    compose: Callable[..., dict[str, StageOutput]], target_lufs: int
) -> None:
    outputs = compose(params={"loudness_lufs": target_lufs})

    report = json.loads(outputs["loudness"].path.read_text("utf-8"))
    assert outputs["loudness"].media_type == "application/json"
    assert set(report) == {"target_lufs", "measured_lufs", "true_peak_dbtp", "lra"}
    assert report["target_lufs"] == target_lufs
    assert report["measured_lufs"] == pytest.approx(target_lufs, abs=1.0)
    assert report["true_peak_dbtp"] <= -1.0  # ceiling -1.5 dBTP; AAC may add a little
    independent = integrated_lufs_by_loudnorm(outputs["video"].path)
    assert independent == pytest.approx(target_lufs, abs=1.0)


def test_poster_is_a_jpeg_of_the_video_size(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    poster = compose()["poster"]

    assert poster.media_type == "image/jpeg"
    with Image.open(poster.path) as image:
        assert (image.format, image.size) == ("JPEG", (1280, 720))


def test_poster_time_past_the_end_is_refused(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    with pytest.raises(PermanentEngineError, match="poster_at_s"):
        compose(params={"poster_at_s": 60})


def test_short_video_is_held_on_its_last_frame_until_the_narration_ends(
    compose: Callable[..., dict[str, StageOutput]], media: dict[str, Path]
) -> None:
    narration_s = wav_duration_s(media["narration"])

    output = compose(video="video_short")["video"]

    video = streams_by_type(output.path)["video"]
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert float(video["duration"]) == pytest.approx(narration_s, abs=1 / FPS)
    held = frame_at(output.path, narration_s - 0.5)
    assert np.abs(held - frame_at(output.path, 0.96)).mean() < 2  # the last real frame


def test_9_16_video_is_scaled_to_1080x1920(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    outputs = compose(video="video_portrait", audio="tone", params={"aspect": "9:16"})

    video = streams_by_type(outputs["video"].path)["video"]
    assert (video["width"], video["height"], video["pix_fmt"]) == (1080, 1920, "yuv420p")
    assert float(video["duration"]) == pytest.approx(1.5, abs=1 / FPS)
    with Image.open(outputs["poster"].path) as poster:
        assert poster.size == (1080, 1920)


@pytest.mark.skipif(not HAS_BURN_IN, reason="workers/captions/burnin.py is not there yet")
def test_burned_in_captions_change_the_bottom_of_the_frame_during_a_cue(
    compose: Callable[..., dict[str, StageOutput]], media: dict[str, Path]
) -> None:
    clean = compose()["video"].path

    burned = compose(subtitles=True, params={"burn_subtitles": True})["video"].path

    assert video_packet_hashes(burned)[:5] != video_packet_hashes(clean)[:5]  # re-encoded
    during, after = sum(CUE) / 2, CUE[1] + 0.8
    difference = np.abs(frame_at(burned, during) - frame_at(clean, during))
    caption_area, top_half = difference[-150:, 320:960].mean(), difference[:360].mean()
    assert caption_area > 10 * max(top_half, 0.5)
    assert np.abs(frame_at(burned, after) - frame_at(clean, after))[-150:].mean() < 3


def test_subtitles_are_not_burned_unless_asked(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    plain = compose()["video"].path

    with_sidecar = compose(subtitles=True)["video"].path

    assert video_packet_hashes(with_sidecar) == video_packet_hashes(plain)


def test_video_of_another_shape_is_refused(
    compose: Callable[..., dict[str, StageOutput]],
) -> None:
    with pytest.raises(PermanentEngineError, match="different shape"):
        compose(video="video_portrait", audio="tone")


def test_silent_narration_is_refused(compose: Callable[..., dict[str, StageOutput]]) -> None:
    with pytest.raises(PermanentEngineError, match="silent"):
        compose(audio="silence")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"loudness_lufs": -5}, "loudness_lufs"),
        ({"loudness_lufs": -60}, "loudness_lufs"),
        ({"loudness_lufs": "loud"}, "loudness_lufs"),
        ({"true_peak": 1.0}, "true_peak"),
        ({"aspect": "4:3"}, "aspect"),
        ({"width": 1281, "height": 720}, "width"),
        ({"width": 1280}, "height"),
        ({"aspect": "16:9", "width": 1280, "height": 720}, "aspect"),
        ({"crf": 60}, "crf"),
        ({"preset": "warp"}, "preset"),
        ({"burn_subtitles": "yes"}, "burn_subtitles"),
        ({"burn_subtitles": True}, "burn_subtitles"),  # no subtitles input
        ({"poster_at_s": -1}, "poster_at_s"),
    ],
)
def test_bad_params_are_refused_by_name(
    compose: Callable[..., dict[str, StageOutput]], params: dict[str, Any], field: str
) -> None:
    with pytest.raises(PermanentEngineError, match=f"params.{field}"):
        compose(params=params)


def test_engine_reports_the_ffmpeg_version(engine: FfmpegComposeEngine) -> None:
    versions = engine.library_versions()

    assert re.match(r"n?\d", versions["ffmpeg"])
    assert versions["imageio-ffmpeg"]


def test_without_an_nvidia_gpu_the_encoder_is_libx264_and_provenance_says_so() -> None:
    from workers.engines.ffmpeg_compose import FfmpegComposeEngine
    from workers.media.ffmpeg import H264Settings, nvenc_available

    engine = FfmpegComposeEngine()
    engine.load()
    expected = "h264_nvenc" if nvenc_available() else "libx264"
    assert engine.runtime_info() == {"video_encoder": expected}
    nvenc = H264Settings(crf=21, encoder="h264_nvenc").args(fps=25)
    assert nvenc[:2] == ["-c:v", "h264_nvenc"] and nvenc[nvenc.index("-cq") + 1] == "21"
