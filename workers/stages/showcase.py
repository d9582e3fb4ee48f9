"""Showcase stage: a product's stills, narration and script become a video-only product ad (MP4)."""

from __future__ import annotations

import json
import logging
import re
import wave
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.kenburns import KenburnsEngine, ShowcaseRequest
from workers.media.probe import media_duration_s
from workers.showcase.cards import CardText
from workers.showcase.narration import NarrationParts, split_parts, time_sentences
from workers.showcase.params import parse_params
from workers.showcase.price import format_price
from workers.showcase.text import missing_glyphs
from workers.speech import UnsupportedLanguageError, parse_language
from workers.stages.base import Stage, StageOutput

log = logging.getLogger(__name__)
INPUT_PORTS = ("stills", "audio", "timings", "script")
_SENTENCE_END = ".。!！?？…"


class ProductShowcase(Stage):
    """Pan-and-zoom shots over the product photos with title, feature and price cards.

    Input ports: "stills" (list of JPEG/PNG/WebP, in order, 1..N), "audio" (narration WAV),
    "timings" (tts timings.json), "script" (script.json of a product).
    Item fields: title, price, currency, features (";"-separated text or a list), language.

    Params:
        width, height: frame size in pixels, even (default 1280x720; 1920x1080, 1080x1920
            and 1080x1080 lay the cards out for their shape).
        fps: frames per second (default 25).
        colors: {"background", "accent", "text"} as "#rrggbb"; unset ones come from the photo.
        brand: a name shown small on every frame (default none).
        crf, preset: libx264 quality (default 20) and speed (default "veryfast").

    Output "video": video-only MP4, H.264 High yuv420p, round(audio duration x fps) frames.
    """

    kind: ClassVar[str] = "showcase"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"kenburns": KenburnsEngine}
    outputs: ClassVar[tuple[str, ...]] = ("video",)

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Any],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Render showcase.mp4 into workdir.

        Raises:
            PermanentEngineError: a missing port or item field, a bad parameter, a still that
                is not an image or too large, or a script that does not fit the item.
        """
        if not isinstance(engine, KenburnsEngine):
            known = ", ".join(self.engines)
            raise PermanentEngineError(
                f"showcase cannot run on engine {engine.name!r}; use {known}"
            )
        missing = [port for port in INPUT_PORTS if port not in inputs]
        if missing:
            raise PermanentEngineError(f"showcase needs input port(s) {', '.join(missing)}")
        request = build_request(item=item, inputs=inputs, params=params)
        path = workdir / "showcase.mp4"
        rendered = engine.render(request=request, video_path=path)
        return [StageOutput("video", path, "video/mp4", duration_s=rendered.duration_s)]


def build_request(
    *, item: Mapping[str, Any], inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> ShowcaseRequest:
    """Validate item, inputs and params into a render request.

    Raises:
        PermanentEngineError: naming the first missing or malformed field, port or parameter.
    """
    settings = parse_params(params)
    script = _read_json(inputs["script"], "script")
    timings = _read_json(inputs["timings"], "timings")
    language, features = _language(item), _features(item)
    price, currency = _price(item), _text(item, "currency").upper()
    parts = split_parts(
        sentences=time_sentences(script=script, words=timings.get("words", [])),
        feature_indices=_kept_features(script, feature_count=len(features)),
        amount=price,
        currency=currency,
        language=language,
    )
    text = CardText(
        title=_text(item, "title"),
        features=tuple(_display(features[i]) for i, _ in parts.features),
        price=format_price(amount=price, currency=currency, language=language),
        call_to_action=_call_to_action(parts),
        brand=settings.brand,
    )
    _warn_missing_glyphs(text)
    return ShowcaseRequest(
        still_paths=_stills(inputs["stills"]),
        narration=parts,
        text=text,
        duration_s=audio_duration_s(Path(inputs["audio"])),
        params=settings,
    )


def audio_duration_s(path: Path) -> float:
    """Length of the narration: exact from a PCM WAV header, else from ffmpeg's probe."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return media_duration_s(path)


def _stills(value: Any) -> tuple[Path, ...]:
    paths = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not paths:
        raise PermanentEngineError("input port 'stills' is empty: wire at least one photo")
    return tuple(Path(p) for p in paths)


def _read_json(path: Any, port: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentEngineError(f"input {port!r} is not UTF-8 JSON: {error}") from error
    if not isinstance(document, dict):
        raise PermanentEngineError(f"input {port!r} must be a JSON object")
    if port == "script" and not {"text", "sentences"} <= document.keys():
        raise PermanentEngineError("the script JSON needs 'text' and 'sentences'")
    return document


def _text(item: Mapping[str, Any], field: str) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value.strip():
        raise PermanentEngineError(f"item field {field!r} must be non-empty text, got {value!r}")
    return value.strip()


def _language(item: Mapping[str, Any]) -> str:
    language = _text(item, "language")
    try:
        parse_language(tag=language)
    except UnsupportedLanguageError as error:
        raise PermanentEngineError(str(error)) from error
    return language


def _kept_features(script: Mapping[str, Any], *, feature_count: int) -> list[int]:
    """Which of the item's features the script narrates (all, if it does not say)."""
    kept = script.get("source_sentence_indices", list(range(feature_count)))
    if not isinstance(kept, list) or any(
        not isinstance(i, int) or not 0 <= i < feature_count for i in kept
    ):
        raise PermanentEngineError(
            "script source_sentence_indices do not match the item's features"
        )
    return kept


def _features(item: Mapping[str, Any]) -> list[str]:
    value = item.get("features")
    if isinstance(value, list) and all(isinstance(f, str) for f in value):
        parts = value
    else:
        parts = re.split("[;；]", _text(item, "features"))
    return [p.strip() for p in parts if p.strip()]


def _price(item: Mapping[str, Any]) -> Decimal:
    value = item.get("price")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PermanentEngineError(f"item field 'price' must be a number, got {value!r}")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price < 0:
        raise PermanentEngineError(f"item field 'price' must be a number like 18.00, got {value!r}")
    return price


def _display(feature: str) -> str:
    """A catalog feature as a caption: first letter up ("dishwasher safe" -> "Dishwasher safe")."""
    first_word = feature.split(" ", 1)[0]
    if first_word[:1].islower() and first_word[1:] == first_word[1:].lower():
        return feature[0].upper() + feature[1:]
    return feature


def _call_to_action(parts: NarrationParts) -> str:
    spoken = " ".join(s.text for s in parts.outro).strip()
    return spoken.rstrip(_SENTENCE_END).strip()


def _warn_missing_glyphs(text: CardText) -> None:
    shown = " ".join([text.title, *text.features, text.price, text.call_to_action, text.brand])
    missing = missing_glyphs(shown)
    if missing:
        log.warning("the card font has no glyph for %s; they will show as boxes", sorted(missing))
