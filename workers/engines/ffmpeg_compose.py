"""ffmpeg compose engine: video + narration -> the deliverable MP4, its poster and its loudness.

The video is stream-copied whenever it already is what the deliverable needs (H.264 High
yuv420p at the target size, as long as the narration within one frame): then only the
audio is encoded, which takes a few percent of the time a video encode would. Burning
captions, resizing, or padding or trimming a video that is off by more than a frame forces
a re-encode: a stream copy can only be cut in decoding order, which with B-frames keeps
frames past the cut.
"""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.media.ffmpeg import (
    H264Settings,
    ffmpeg_exe,
    ffmpeg_version,
    nvenc_available,
    run_ffmpeg,
)
from workers.media.loudness import Loudness, measure_loudness, plan_normalisation
from workers.media.probe import AudioStream, VideoStream, probe_media

log = logging.getLogger(__name__)

AUDIO_BITRATE = "160k"
# Assumed when ffmpeg prints no frame rate; it only sizes the keyframe interval and padding.
FALLBACK_FPS = 25.0
# Container durations are printed to 10 ms.
_DURATION_SLACK_S = 0.01
# Sizes may differ by rounding (854x480 is 16:9 too), not by shape.
_ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class ComposeSpec:
    """What the deliverable must be.

    Attributes:
        width, height: frame size in pixels (even).
        target_lufs: integrated loudness of the narration, e.g. -16.
        true_peak_dbtp: ceiling for the true peak, e.g. -1.5.
        h264: encoder settings, used only when the video must be re-encoded.
        poster_at_s: time of the poster frame; None for a third of the way in.
        subtitles_path: an SRT to burn into the picture, or None.
    """

    width: int
    height: int
    target_lufs: float
    true_peak_dbtp: float
    h264: H264Settings
    poster_at_s: float | None = None
    subtitles_path: Path | None = None


@dataclass(frozen=True)
class ComposeResult:
    """The files written and what was measured on the finished MP4."""

    video_path: Path
    poster_path: Path
    duration_s: float
    loudness: Loudness
    is_video_copied: bool


class FfmpegComposeEngine(Engine):
    """Muxes H.264 video with loudness-normalised AAC narration into a faststart MP4."""

    name: ClassVar[str] = "ffmpeg"
    version: ClassVar[str] = "1"

    def load(self) -> None:
        ffmpeg_exe()
        # re-encodes (burned captions, resizing) go to NVENC when the GPU has it
        self.encoder = "h264_nvenc" if nvenc_available() else "libx264"

    def runtime_info(self) -> dict[str, str]:
        return {"video_encoder": getattr(self, "encoder", "libx264")}

    def library_versions(self) -> dict[str, str]:
        return {"ffmpeg": ffmpeg_version(), "imageio-ffmpeg": metadata.version("imageio-ffmpeg")}

    def compose(
        self, *, video_path: Path, audio_path: Path, workdir: Path, spec: ComposeSpec
    ) -> ComposeResult:
        """Make the deliverable: MP4 (H.264 High yuv420p, AAC-LC 48 kHz, +faststart) + poster.

        Args:
            video_path: the picture (an MP4; any audio in it is ignored).
            audio_path: the narration (WAV or anything ffmpeg reads); it sets the duration.
            workdir: where "composed.mp4" and "poster.jpg" are written.
            spec: the deliverable's size, loudness, encoder and poster settings.

        Returns:
            The files and the loudness measured on the finished MP4.

        Raises:
            PermanentEngineError: a missing stream, a different aspect ratio, silent audio,
                or a poster time past the end.
            EngineError: ffmpeg failed.
        """
        spec = replace(spec, h264=replace(spec.h264, encoder=getattr(self, "encoder", "libx264")))
        video, audio, video_s = _probe_inputs(video_path, audio_path)
        _check_aspect(video, spec)
        duration_s = _audio_duration_s(audio_path)
        poster_at_s = _poster_time(spec.poster_at_s, duration_s)
        audio_filter = plan_normalisation(
            audio_path=audio_path,
            measured=measure_loudness(path=audio_path),
            target_lufs=spec.target_lufs,
            true_peak_dbtp=spec.true_peak_dbtp,
        )
        is_copy = _can_copy(video, spec, excess_s=video_s - duration_s)
        video_input, video_output = (
            (["-i", str(video_path)], ["-c:v", "copy"])
            if is_copy
            else _encode_video_args(video_path, video, spec, duration_s, video_s)
        )
        output_path = workdir / "composed.mp4"
        _mux(
            inputs=[*video_input, "-i", str(audio_path)],
            output_args=[*video_output, "-af", audio_filter, *_audio_codec_args(audio)],
            output_path=output_path,
        )
        log.info("composed %s (video %s)", output_path.name, "copied" if is_copy else "encoded")
        poster_path = workdir / "poster.jpg"
        extract_poster(video_path=output_path, at_s=poster_at_s, poster_path=poster_path)
        return ComposeResult(
            video_path=output_path,
            poster_path=poster_path,
            duration_s=duration_s,
            loudness=measure_loudness(path=output_path),
            is_video_copied=is_copy,
        )


def _mux(*, inputs: list[str], output_args: list[str], output_path: Path) -> None:
    # Input 0 is the picture, input 1 the narration; any audio inside the video is dropped.
    run_ffmpeg(
        [*inputs, "-map", "0:v:0", "-map", "1:a:0", *output_args, "-map_metadata", "-1",
         "-movflags", "+faststart", str(output_path)]
    )  # fmt: skip


def extract_poster(*, video_path: Path, at_s: float, poster_path: Path) -> None:
    """Write the frame shown at `at_s` as a JPEG of the video's size."""
    run_ffmpeg(
        ["-ss", f"{at_s:.3f}", "-i", str(video_path), "-frames:v", "1", "-q:v", "2",
         "-update", "1", "-f", "image2", str(poster_path)]
    )  # fmt: skip


def _probe_inputs(video_path: Path, audio_path: Path) -> tuple[VideoStream, AudioStream, float]:
    video_info, audio_info = probe_media(video_path), probe_media(audio_path)
    if video_info.video is None:
        raise PermanentEngineError("the 'video' input has no video stream")
    if audio_info.audio is None:
        raise PermanentEngineError("the 'audio' input has no audio stream")
    return video_info.video, audio_info.audio, video_info.duration_s or 0.0


def _check_aspect(video: VideoStream, spec: ComposeSpec) -> None:
    have, want = video.width / video.height, spec.width / spec.height
    if abs(have / want - 1) > _ASPECT_TOLERANCE:
        raise PermanentEngineError(
            f"the video is {video.width}x{video.height} but compose targets "
            f"{spec.width}x{spec.height}, a different shape: set params.aspect (or width and "
            "height) to match the stage that drew the video"
        )


def _audio_duration_s(audio_path: Path) -> float:
    # A PCM WAV's length is exact from its header; ffmpeg's header read rounds to 10 ms.
    try:
        with wave.open(str(audio_path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        duration_s = probe_media(audio_path).duration_s
    if not duration_s:
        raise PermanentEngineError("the 'audio' input has no duration")
    return duration_s


def _poster_time(poster_at_s: float | None, duration_s: float) -> float:
    if poster_at_s is None:
        return duration_s / 3
    if poster_at_s >= duration_s:
        raise PermanentEngineError(
            f"params.poster_at_s={poster_at_s} is past the end of the {duration_s:.2f} s video"
        )
    return poster_at_s


def _can_copy(video: VideoStream, spec: ComposeSpec, *, excess_s: float) -> bool:
    """Whether the input video can go into the deliverable untouched."""
    return (
        spec.subtitles_path is None
        and video.codec == "h264"
        and video.profile == "High"
        and video.pix_fmt == "yuv420p"
        and (video.width, video.height) == (spec.width, spec.height)
        and abs(excess_s) <= 1 / (video.fps or FALLBACK_FPS) + _DURATION_SLACK_S
    )


def _encode_video_args(
    video_path: Path, video: VideoStream, spec: ComposeSpec, duration_s: float, video_s: float
) -> tuple[list[str], list[str]]:
    fps = video.fps or FALLBACK_FPS
    steps = []
    if (video.width, video.height) != (spec.width, spec.height):
        steps.append(f"scale={spec.width}:{spec.height}:flags=lanczos")
    if video_s < duration_s:  # hold the last frame until the narration ends
        steps.append(f"tpad=stop_mode=clone:stop_duration={duration_s - video_s + 1 / fps:.3f}")
    steps.append(f"trim=duration={duration_s:.6f}")
    if spec.subtitles_path is not None:
        steps.append(_burn_in_filter(spec))
    steps.append("format=yuv420p")
    return ["-i", str(video_path)], ["-vf", ",".join(steps), *spec.h264.args(fps=fps)]


def _burn_in_filter(spec: ComposeSpec) -> str:
    try:
        from workers.captions.burnin import subtitles_filter
    except ImportError as error:  # the captions package ships with the subtitles stage
        raise PermanentEngineError(f"caption burn-in is not available: {error}") from error
    assert spec.subtitles_path is not None
    return subtitles_filter(srt_path=spec.subtitles_path, width=spec.width, height=spec.height)


def _audio_codec_args(audio: AudioStream) -> list[str]:
    # Narration is usually mono and stays mono; anything with more channels becomes stereo.
    channels = "1" if audio.layout == "mono" else "2"
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", "48000", "-ac", channels]
