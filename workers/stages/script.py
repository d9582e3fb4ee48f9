"""Script stage: turn a news article or a catalog row into a narration script (script.json)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.causal_lm import CausalLMEngine
from workers.engines.extractive import (
    ExtractiveEngine,
    NewsSource,
    ProductSource,
    ScriptRequest,
)
from workers.stages.base import Stage, StageOutput

_PARAMS = ("target_duration_s", "words_per_minute", "intro", "signoff", "station")
_PRODUCT_FIELDS = ("title", "features", "price", "currency")


class WriteScript(Stage):
    """Write the narration for one item, sized to a target duration, numbers spelled out.

    Reads the item, not input ports. News items need `headline`, `body`, `language`;
    product rows need `title`, `features` (";"- or "；"-separated text, or a list), `price`,
    `currency`, `language`. A row is a product when it has any of title/features/price.

    Params:
        target_duration_s: narration length to aim for, seconds (default 45).
        words_per_minute: speaking rate; for Chinese, characters per minute
            (default en 150, es 160, zh 240).
        intro, signoff: anchor lines replacing the language's default; "{headline}" and
            "{station}" are filled in, "" leaves the line out.
        station: name used in the default anchor lines (default "mediaq news").

    Output `script` (script.json, application/json, UTF-8):
        language, item_kind ("news" | "product"), headline (as submitted; the title for
        products), text (the whole narration), sentences (narration sentences in order:
        intro, body, price, sign-off), source_sentence_indices (which body sentences or
        features were kept, 0-based; empty with causal_lm, whose model writes the body),
        target_duration_s, estimated_duration_s, words_per_minute (the rate used),
        rate_unit ("words" | "characters").

    Engines: "extractive" (rules, no weights) and "causal_lm" (a local language model
    writes the body between the same intro, price and sign-off lines).
    """

    kind: ClassVar[str] = "script"
    engines: ClassVar[Mapping[str, type[Engine]]] = {
        "extractive": ExtractiveEngine,
        "causal_lm": CausalLMEngine,
    }
    outputs: ClassVar[tuple[str, ...]] = ("script",)

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Write script.json into workdir.

        Raises:
            PermanentEngineError: a missing or malformed item field or parameter, an
                unsupported language, or an engine this stage cannot drive.
        """
        if not isinstance(engine, ExtractiveEngine | CausalLMEngine):
            raise PermanentEngineError(
                f"script stage cannot run on engine {engine.name!r}; use one of "
                f"{', '.join(self.engines)}"
            )
        request = build_request(item=item, params=params)
        script = engine.write_script(request=request)
        path = workdir / "script.json"
        document = json.dumps(script.to_json(), ensure_ascii=False, indent=2)
        path.write_text(document + "\n", encoding="utf-8")
        return [StageOutput(name="script", path=path, media_type="application/json")]


def build_request(*, item: Mapping[str, Any], params: Mapping[str, Any]) -> ScriptRequest:
    """Validate the item and params into a ScriptRequest.

    Raises:
        PermanentEngineError: naming the first missing or malformed field or parameter.
    """
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise PermanentEngineError(
            f"unknown script parameter(s) {', '.join(unknown)}; known: {', '.join(_PARAMS)}"
        )
    is_product = any(field in item for field in _PRODUCT_FIELDS[:3])
    source = _read_product(item) if is_product else _read_news(item)
    rate = params.get("words_per_minute")
    return ScriptRequest(
        language=_required_text(item, "language"),
        source=source,
        target_duration_s=_positive_number(
            params.get("target_duration_s", 45), "target_duration_s"
        ),
        rate_per_minute=None if rate is None else _positive_number(rate, "words_per_minute"),
        station=_optional_text(params, "station") or "mediaq news",
        intro=_optional_text(params, "intro"),
        signoff=_optional_text(params, "signoff"),
    )


def _read_news(item: Mapping[str, Any]) -> NewsSource:
    return NewsSource(headline=_required_text(item, "headline"), body=_required_text(item, "body"))


def _read_product(item: Mapping[str, Any]) -> ProductSource:
    features = item.get("features")
    if isinstance(features, list) and all(isinstance(f, str) for f in features):
        parts = tuple(f.strip() for f in features)
    else:
        # Chinese catalogs separate features with the full-width semicolon
        parts = tuple(p.strip() for p in re.split("[;；]", _required_text(item, "features")))
    return ProductSource(
        title=_required_text(item, "title"),
        features=tuple(p for p in parts if p),
        price=_price(item),
        currency=_required_text(item, "currency").upper(),
    )


def _required_text(item: Mapping[str, Any], field: str) -> str:
    value = item.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PermanentEngineError(f"item field {field!r} is missing or empty")
    if not isinstance(value, str):
        raise PermanentEngineError(f"item field {field!r} must be text, got {type(value).__name__}")
    return value.strip()


def _optional_text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise PermanentEngineError(f"parameter {name!r} must be text, got {type(value).__name__}")
    return value


def _price(item: Mapping[str, Any]) -> Decimal:
    value = item.get("price")
    if value is None or value == "":
        raise PermanentEngineError("item field 'price' is missing or empty")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PermanentEngineError(f"item field 'price' must be a number, got {value!r}")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price < 0:
        raise PermanentEngineError(
            f"item field 'price' must be a plain non-negative number like 18.00, got {value!r}"
        )
    return price


def _positive_number(value: Any, name: str) -> float:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value <= 0:
        raise PermanentEngineError(f"parameter {name!r} must be a positive number, got {value!r}")
    return float(value)
