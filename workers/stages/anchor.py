"""anchor stage: a lip-synced presenter video (no audio) from the narration and its timings."""

from __future__ import annotations

import hashlib
import json
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workers.anchor.options import parse_options
from workers.anchor.render import AnchorRequest
from workers.engines.avatar2d import Avatar2DEngine
from workers.engines.base import Engine, PermanentEngineError
from workers.engines.lipsync import LipSyncEngine
from workers.media.probe import media_duration_s
from workers.stages.base import Stage, StageOutput

_MAX_TITLE_CHARS = 300


class AnimateAnchor(Stage):
    """Animate a news presenter reading the narration: mouth shapes from the tts phonemes.

    Inputs: "audio" (the narration WAV; only its duration is used), "timings" (the tts
    timings JSON with "phonemes"), optional "portrait" (an image, for params.mode "photo").
    Item fields: "headline" (news) or "title" (products) for the lower third, "language",
    "headline"/"title" (also seeds blinks and sway).
    Params (all optional): width (1280), height (720), fps (25), mode ("drawn" | "photo"),
    station ("mediaq news"), colors {primary, accent, background, text} and presenter
    {skin, hair, suit, shirt} as "#rrggbb", mouth_box and eye_boxes ([x, y, w, h] in
    portrait pixels; found automatically when absent), crf (20), preset ("veryfast").

    Engines: "avatar2d" (mouth shapes from the phonemes) and "wav2lip" (the same scene with
    mouths generated from the audio by a user-supplied network; the phonemes time the nods).
    """

    kind: ClassVar[str] = "anchor"
    engines: ClassVar[Mapping[str, type[Engine]]] = {
        "avatar2d": Avatar2DEngine,
        "wav2lip": LipSyncEngine,
    }
    outputs: ClassVar[tuple[str, ...]] = ("video",)

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Render the presenter video.

        Returns:
            "video": H.264 High yuv420p MP4 without audio, round(audio duration x fps) frames.

        Raises:
            PermanentEngineError: bad params, missing or unreadable inputs, a bad portrait.
            EngineError: ffmpeg failed.
        """
        if not isinstance(engine, Avatar2DEngine | LipSyncEngine):
            raise PermanentEngineError(f"anchor cannot run on engine {engine.name!r}")
        options = parse_options(params)
        missing = [port for port in ("audio", "timings") if port not in inputs]
        if missing:
            raise PermanentEngineError(f"anchor needs the input ports {missing}")
        timings = read_timings(inputs["timings"])
        headline, item_kind = item_title(item)
        request = AnchorRequest(
            phonemes=timings["phonemes"],
            audio_duration_s=audio_duration_s(inputs["audio"]),
            headline=headline,
            language=str(item.get("language") or timings.get("language") or "en"),
            item_kind=item_kind,
            seed=item_seed(item),
            options=options,
            portrait_path=inputs.get("portrait"),
        )
        video_path = workdir / "anchor.mp4"
        if isinstance(engine, LipSyncEngine):
            n_frames = engine.render(request, audio_path=inputs["audio"], out_path=video_path)
        else:
            n_frames = engine.render(request, out_path=video_path)
        return [StageOutput("video", video_path, "video/mp4", duration_s=n_frames / options.fps)]


def read_timings(path: Path) -> dict[str, Any]:
    """The tts timings JSON, checked to hold a list of timed phonemes.

    Raises:
        PermanentEngineError: not UTF-8 JSON, or phonemes missing or malformed.
    """
    try:
        timings = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentEngineError(f"the timings are not UTF-8 JSON: {error}") from error
    phonemes = timings.get("phonemes") if isinstance(timings, dict) else None
    if not isinstance(phonemes, list):
        raise PermanentEngineError(
            "the timings JSON has no list 'phonemes' (the tts stage writes one)"
        )
    for index, entry in enumerate(phonemes):
        is_valid = (
            isinstance(entry, dict)
            and isinstance(entry.get("phoneme"), str)
            and all(
                isinstance(entry.get(k), int | float) and not isinstance(entry.get(k), bool)
                for k in ("start_s", "end_s")
            )
        )
        if not is_valid:
            raise PermanentEngineError(
                f"timings.phonemes[{index}] must be"
                " {'phoneme': str, 'start_s': number, 'end_s': number}"
            )
    return dict(timings)


def audio_duration_s(path: Path) -> float:
    """Exact length of a WAV from its header; other formats through ffmpeg.

    Raises:
        PermanentEngineError: not a readable audio file, or empty.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            duration = wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        duration = media_duration_s(path)
    if duration <= 0:
        raise PermanentEngineError("the narration audio is empty")
    return duration


def item_title(item: Mapping[str, Any]) -> tuple[str, str]:
    """(lower-third text, "news" | "product"): the headline, else a product's title."""
    for field, kind in (("headline", "news"), ("title", "product")):
        value = item.get(field)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:_MAX_TITLE_CHARS], kind
    return "", "news"


def item_seed(item: Mapping[str, Any]) -> int:
    """A stable seed from the item's text, so re-runs blink the same.

    Not from `custom_id`: the cache key leaves the id out, so the output must not depend on it.
    """
    key = item.get("headline") or item.get("title") or item.get("body") or ""
    return int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "big")
