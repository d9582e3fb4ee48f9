"""compose stage: the deliverable MP4 (picture + normalised narration), its poster and loudness."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.ffmpeg_compose import ComposeSpec, FfmpegComposeEngine
from workers.media.ffmpeg import H264Settings
from workers.stages.base import Stage, StageOutput

ASPECTS: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "1080p": (1920, 1080),
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
}
DEFAULT_ASPECT = "16:9"
DEFAULT_LUFS = -16.0
# EBU R128 broadcast is -23, streaming platforms -14 to -16; quieter or louder is a mistake.
LUFS_RANGE = (-36.0, -10.0)
DEFAULT_TRUE_PEAK_DBTP = -1.5
TRUE_PEAK_RANGE = (-9.0, 0.0)
SIZE_RANGE = (64, 3840)
CRF_RANGE = (0, 51)
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow",
)  # fmt: skip


class Compose(Stage):
    """Join the picture and the narration into the deliverable.

    Inputs: "video", an MP4 at the final size (H.264 High yuv420p is stream-copied);
    "audio", the narration, which sets the duration; "subtitles", an SRT, optional.
    Params: "aspect" ("16:9" 1280x720 default, "1080p", "9:16", "1:1") or "width" and
    "height"; "loudness_lufs" (-16 default, -36 to -10); "true_peak" (dBTP ceiling, -1.5
    default, -9 to 0); "burn_subtitles" (false); "crf" and "preset" (x264, used when the
    video is re-encoded); "poster_at_s" (default a third of the way in).
    """

    kind: ClassVar[str] = "compose"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"ffmpeg": FfmpegComposeEngine}
    outputs: ClassVar[tuple[str, ...]] = ("video", "poster", "loudness")

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Compose the MP4.

        Returns:
            "video": video/mp4, H.264 High yuv420p + AAC-LC 48 kHz, +faststart, as long as
            the narration (within one frame); "poster": image/jpeg at the video size;
            "loudness": application/json {"target_lufs", "measured_lufs",
            "true_peak_dbtp", "lra"}, measured on the finished MP4.

        Raises:
            PermanentEngineError: a bad parameter, a missing input or stream, a video of
                another shape, silent narration.
            EngineError: ffmpeg failed.
        """
        if not isinstance(engine, FfmpegComposeEngine):
            raise PermanentEngineError(f"compose cannot run on engine {engine.name!r}")
        for port in ("video", "audio"):
            if port not in inputs:
                raise PermanentEngineError(f"compose needs a {port!r} input")
        spec = build_spec(params, subtitles_path=inputs.get("subtitles"))
        result = engine.compose(
            video_path=inputs["video"], audio_path=inputs["audio"], workdir=workdir, spec=spec
        )
        report_path = workdir / "loudness.json"
        report = {
            "target_lufs": spec.target_lufs,
            "measured_lufs": result.loudness.integrated_lufs,
            "true_peak_dbtp": result.loudness.true_peak_dbtp,
            "lra": result.loudness.lra_lu,
        }
        report_path.write_text(json.dumps(report, indent=1), "utf-8")
        return [
            StageOutput("video", result.video_path, "video/mp4", duration_s=result.duration_s),
            StageOutput("poster", result.poster_path, "image/jpeg"),
            StageOutput("loudness", report_path, "application/json"),
        ]


def build_spec(params: Mapping[str, Any], *, subtitles_path: Path | None) -> ComposeSpec:
    """Validate the params into a ComposeSpec.

    Raises:
        PermanentEngineError: the first bad parameter, by name.
    """
    width, height = _size_params(params)
    defaults = H264Settings()
    return ComposeSpec(
        width=width,
        height=height,
        target_lufs=_number(params, "loudness_lufs", DEFAULT_LUFS, LUFS_RANGE),
        true_peak_dbtp=_number(params, "true_peak", DEFAULT_TRUE_PEAK_DBTP, TRUE_PEAK_RANGE),
        h264=H264Settings(crf=_crf_param(params, defaults.crf), preset=_preset_param(params)),
        poster_at_s=_poster_param(params),
        subtitles_path=_burn_in_path(params, subtitles_path),
    )


def _size_params(params: Mapping[str, Any]) -> tuple[int, int]:
    width, height, aspect = params.get("width"), params.get("height"), params.get("aspect")
    if width is None and height is None:
        aspect = DEFAULT_ASPECT if aspect is None else aspect
        if aspect not in ASPECTS:
            raise PermanentEngineError(
                f"params.aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}"
            )
        return ASPECTS[aspect]
    if aspect is not None:
        raise PermanentEngineError("give params.aspect or params.width and height, not both")
    return _even_pixels("width", width), _even_pixels("height", height)


def _even_pixels(name: str, value: Any) -> int:
    low, high = SIZE_RANGE
    if not _is_int(value) or not low <= value <= high or value % 2:
        raise PermanentEngineError(
            f"params.{name} must be an even number of pixels from {low} to {high}, got {value!r}"
        )
    return int(value)


def _number(
    params: Mapping[str, Any], name: str, default: float, bounds: tuple[float, float]
) -> float:
    value = params.get(name, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PermanentEngineError(f"params.{name} must be a number from {low} to {high}")
    return float(value)


def _crf_param(params: Mapping[str, Any], default: int) -> int:
    crf = params.get("crf", default)
    low, high = CRF_RANGE
    if not _is_int(crf) or not low <= crf <= high:
        raise PermanentEngineError(f"params.crf must be an integer from {low} to {high}")
    return int(crf)


def _preset_param(params: Mapping[str, Any]) -> str:
    preset = params.get("preset", H264Settings().preset)
    if preset not in X264_PRESETS:
        raise PermanentEngineError(f"params.preset must be one of {', '.join(X264_PRESETS)}")
    return str(preset)


def _poster_param(params: Mapping[str, Any]) -> float | None:
    at_s = params.get("poster_at_s")
    if at_s is None:
        return None
    if isinstance(at_s, bool) or not isinstance(at_s, int | float) or at_s < 0:
        raise PermanentEngineError(f"params.poster_at_s must be seconds >= 0, got {at_s!r}")
    return float(at_s)


def _burn_in_path(params: Mapping[str, Any], subtitles_path: Path | None) -> Path | None:
    burn = params.get("burn_subtitles", False)
    if not isinstance(burn, bool):
        raise PermanentEngineError(f"params.burn_subtitles must be true or false, got {burn!r}")
    if not burn:
        return None
    if subtitles_path is None:
        raise PermanentEngineError("params.burn_subtitles is true but no 'subtitles' input")
    return subtitles_path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
