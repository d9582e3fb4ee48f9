"""Causal language model script engine: a local transformers model writes the anchor script body.

The model is a folder on the worker's disk (MEDIAQ_SCRIPT_MODEL_DIR), opened with
local_files_only=True: config, weights and a tokenizer, with a chat template for instruct
models (used when present; base models get a plain prompt ending in "Script:"). Decoding is
greedy, so the same item, model and parameters always give the same script, as the cache
key promises.

Length is controlled twice: the token budget is sized from the target duration, the speaking
rate and the tokenizer's own tokens-per-word on the article, and the result is measured
afterwards. Output that fails a check (empty, wrong language, looping, too long: see
workers.speech.script_check) is refused with a PermanentEngineError naming the check; it is
never passed on to the voice.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from workers.engines.base import Engine, EngineError, PermanentEngineError
from workers.engines.extractive import NewsSource, Script, ScriptRequest, framing_sentences
from workers.engines.neural.config import NeuralConfig, neural_config_from_settings
from workers.engines.neural.device import (
    Precision,
    RuntimeInfo,
    device_name,
    precision_candidates,
    resolve_device,
    torch_backend,
)
from workers.engines.neural.weights import (
    LocalWeights,
    digest_path,
    pretrained_kwargs,
    require_local_path,
)
from workers.engines.script_prompt import Prompt, build_prompt, source_text
from workers.speech import parse_language, rewrite_for_speech
from workers.speech.script_check import ScriptRejected, check_script_text
from workers.speech.sentences import split_sentences
from workers.speech.timing import (
    DEFAULT_RATE_PER_MINUTE,
    count_spoken_units,
    estimate_duration_s,
    rate_unit,
)

log = logging.getLogger(__name__)

SETTING = "MEDIAQ_SCRIPT_MODEL_DIR"
# A script may overrun its target by this fraction; the token budget allows the same.
LENGTH_TOLERANCE = 0.25
MIN_BODY_UNITS = 12  # even when the anchor lines fill the target, ask for one real sentence
TOKEN_SLACK = 8  # end-of-sentence punctuation and the end token
# Tokens per spoken unit when the article cannot tell (no words in it), and the range a
# measured value is kept in: byte-level tokenizers spend up to ~3 tokens per Han character.
DEFAULT_TOKENS_PER_UNIT = 2.0
TOKENS_PER_UNIT_RANGE = (0.5, 4.0)
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)」』）]*$")
_SPACE_NEXT_TO_WIDE = re.compile(
    r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+|\s+(?=[\u3000-\u9fff\uff00-\uffef])"
)


@dataclass(frozen=True)
class Generation:
    """What the model wrote: the decoded text and whether it ended on its own."""

    text: str
    is_finished: bool
    new_tokens: int
    max_new_tokens: int


class CausalLMEngine(LocalWeights, Engine):
    """Writes anchor and product scripts with a local causal language model.

    Args:
        config: device, precision and model folder settings; None reads the process Settings.
        model_dir: the model folder; None reads Settings.script_model_dir. Relative paths
            are resolved under config.models_dir.
    """

    name: ClassVar[str] = "causal_lm"
    # Bump when the same model and request would give a different script (cache key).
    version: ClassVar[str] = "1.0.0"
    device: ClassVar[str] = "gpu"  # runs on the CPU too, slowly

    def __init__(
        self, config: NeuralConfig | None = None, *, model_dir: Path | str | None = None
    ) -> None:
        self._config = config
        self._model_dir = model_dir
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._digest: str | None = None
        self._runtime: RuntimeInfo | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def runtime(self) -> RuntimeInfo:
        """Backend, precision and device that run the model (after load())."""
        if self._runtime is None:
            raise EngineError("the causal_lm engine is not loaded")
        return self._runtime

    def load(self) -> None:
        """Open the tokenizer and model from the local folder and move the model to its device.

        Raises:
            PermanentEngineError: no folder configured, nothing there, or not a causal LM.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        config = self._config or neural_config_from_settings()
        path = require_local_path(config=config, path=self._configured_dir(), setting=SETTING)
        device = resolve_device(config)
        precision = precision_candidates(config, device)[0]
        dtype = torch.float16 if precision == Precision.FP16 else torch.float32
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, **pretrained_kwargs())
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, **pretrained_kwargs()
            )
        except (OSError, ValueError, KeyError) as error:
            raise PermanentEngineError(
                f"{path} is not a transformers causal language model folder ({SETTING}): {error}"
            ) from error
        self._model = model.to(device).eval()
        self._tokenizer = tokenizer
        self._path, self._digest = path, digest_path(path)
        # TensorRT does not run autoregressive decoding here (that is TensorRT-LLM's job).
        fallback = "no TensorRT path for causal LMs" if config.backend == "tensorrt" else None
        self._runtime = RuntimeInfo(
            backend=torch_backend(device),
            precision=precision,
            device_name=device_name(device),
            fallback_reason=fallback,
        )

    def close(self) -> None:
        self._model = self._tokenizer = None

    def runtime_info(self) -> dict[str, str]:
        """Backend, precision and device, for provenance (empty before load())."""
        return self._runtime.as_dict() if self._runtime is not None else {}

    def library_versions(self) -> dict[str, str]:
        return {lib: metadata.version(lib) for lib in ("torch", "transformers")}

    def _configured_dir(self) -> Path | str | None:
        if self._model_dir is not None:
            return self._model_dir
        from producer.settings import get_settings

        return getattr(get_settings(), "script_model_dir", None)

    def write_script(self, *, request: ScriptRequest) -> Script:
        """Write a narration script of about the request's target duration.

        Args:
            request: the item, language, target duration, rate and anchor lines.

        Returns:
            The script: the anchor's intro, the model's body, a product's price line and the
            sign-off, numbers spelled for speech.

        Raises:
            PermanentEngineError: unsupported language, or model output refused by a check.
        """
        if self._model is None:
            raise EngineError("the causal_lm engine is not loaded")
        base = _base_language(request.language)
        rate = request.rate_per_minute or DEFAULT_RATE_PER_MINUTE[base]
        opening, closing = framing_sentences(request=request)
        framing_units = sum(
            count_spoken_units(text=s, language=request.language) for s in (*opening, *closing)
        )
        target_units = request.target_duration_s * rate / 60.0
        body_units = max(round(target_units - framing_units), MIN_BODY_UNITS)
        generation = self._generate(request=request, base=base, body_units=body_units)
        body = _accept_body(generation, request=request, model=self.model_id)
        sentences = (*opening, *body, *closing)
        text = ("" if base == "zh" else " ").join(sentences)
        duration_s = estimate_duration_s(text=text, language=request.language, rate_per_minute=rate)
        _check_duration(duration_s, request.target_duration_s, model=self.model_id)
        return Script(
            language=request.language,
            item_kind="news" if isinstance(request.source, NewsSource) else "product",
            headline=_headline(request),
            text=text,
            sentences=sentences,
            source_sentence_indices=(),  # the body is written, not extracted
            target_duration_s=request.target_duration_s,
            estimated_duration_s=round(duration_s, 2),
            rate_per_minute=rate,
            rate_unit=rate_unit(language=request.language),
        )

    def _generate(self, *, request: ScriptRequest, base: str, body_units: int) -> Generation:
        import torch
        from transformers import GenerationConfig

        material = source_text(request=request)
        per_unit = self._tokens_per_unit(material, request.language)
        max_new_tokens = math.ceil(body_units * per_unit * (1 + LENGTH_TOLERANCE)) + TOKEN_SLACK
        input_ids = self._prompt_ids(
            request=request, base=base, body_units=body_units, material=material,
            room=max_new_tokens,
        )  # fmt: skip
        eos = self._eos_ids()
        settings = GenerationConfig(  # type: ignore[no-untyped-call]
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos,
            pad_token_id=_first_not_none(self._tokenizer.pad_token_id, eos[0]),
        )
        device = self._model.device
        with self._lock, torch.inference_mode():
            output = self._model.generate(
                input_ids=input_ids.to(device),
                attention_mask=torch.ones_like(input_ids).to(device),
                generation_config=settings,
            )
        new = output[0, input_ids.shape[1] :].tolist()
        is_finished = any(token in eos for token in new)
        text = self._tokenizer.decode(new, skip_special_tokens=True)
        return Generation(_tidy(text, base), is_finished, len(new), max_new_tokens)

    def _tokens_per_unit(self, material: str, language: str) -> float:
        units = count_spoken_units(text=material, language=language)
        if units == 0:
            return DEFAULT_TOKENS_PER_UNIT
        tokens = len(self._tokenizer(material, add_special_tokens=False)["input_ids"])
        low, high = TOKENS_PER_UNIT_RANGE
        return min(max(tokens / units, low), high)

    def _prompt_ids(
        self, *, request: ScriptRequest, base: str, body_units: int, material: str, room: int
    ) -> Any:
        """Token ids of the prompt; the article is shortened when prompt and answer overflow."""
        limit = self._context_tokens()
        ids = self._encode(build_prompt(
            request=request, base=base, body_units=body_units, source_text=material
        ))  # fmt: skip
        excess = ids.shape[1] + room - limit if limit else 0
        if excess <= 0:
            return ids
        material_ids = self._tokenizer(material, add_special_tokens=False)["input_ids"]
        keep = len(material_ids) - excess - TOKEN_SLACK
        if keep < len(material_ids) // 4:
            raise PermanentEngineError(
                f"the article is too long for the model's context of {limit} tokens even when "
                f"cut to a quarter; use a model with a longer context or a shorter target"
            )
        log.warning("article cut from %d to %d tokens to fit the context", len(material_ids), keep)
        shortened = self._tokenizer.decode(material_ids[:keep], skip_special_tokens=True)
        return self._encode(build_prompt(
            request=request, base=base, body_units=body_units, source_text=shortened
        ))  # fmt: skip

    def _encode(self, prompt: Prompt) -> Any:
        from jinja2 import TemplateError

        tokenizer = self._tokenizer
        if not getattr(tokenizer, "chat_template", None):
            return tokenizer(prompt.as_plain_text(), return_tensors="pt")["input_ids"]
        try:
            return self._apply_template(prompt.as_messages())
        except TemplateError:
            # Some templates (Gemma's) raise on a system turn: put the instruction in the
            # user turn instead.
            return self._apply_template(prompt.as_single_message())

    def _apply_template(self, messages: list[dict[str, str]]) -> Any:
        encoded = self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return encoded["input_ids"]

    def _context_tokens(self) -> int | None:
        limit = getattr(self._model.config, "max_position_embeddings", None)
        return int(limit) if isinstance(limit, int) and limit > 0 else None

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        for source in (self._model.generation_config.eos_token_id, self._tokenizer.eos_token_id):
            for token in source if isinstance(source, list) else [source]:
                if token is not None and token not in ids:
                    ids.append(int(token))
        if not ids:
            raise PermanentEngineError(
                f"the model in {self._path} defines no end-of-sequence token, so generation "
                "could not stop by itself"
            )
        return ids


def _base_language(tag: str) -> str:
    from workers.speech import UnsupportedLanguageError

    try:
        return parse_language(tag=tag).language
    except UnsupportedLanguageError as error:
        raise PermanentEngineError(str(error)) from error


def _headline(request: ScriptRequest) -> str:
    source = request.source
    return source.headline if isinstance(source, NewsSource) else source.title


def _first_not_none(value: int | None, default: int) -> int:
    return default if value is None else value


def _tidy(text: str, base: str) -> str:
    """Collapse whitespace and drop markdown emphasis; Chinese keeps no spaces around Han."""
    text = " ".join(text.replace("**", "").replace("__", "").split())
    return _SPACE_NEXT_TO_WIDE.sub("", text) if base == "zh" else text


def _accept_body(generation: Generation, *, request: ScriptRequest, model: str | None) -> list[str]:
    """The body sentences, spelled for speech, once the text passed every check.

    A generation cut off by the token budget loses its unfinished last sentence; one with no
    finished sentence at all is refused.

    Raises:
        PermanentEngineError: the text failed a check.
    """
    language = request.language
    sentences = split_sentences(text=generation.text, language=language) if generation.text else []
    if not generation.is_finished and sentences and not _SENTENCE_END.search(sentences[-1]):
        sentences = sentences[:-1]
        if not sentences:
            _refuse(
                f"it did not finish a sentence within {generation.max_new_tokens} tokens", model
            )
    text = ("" if parse_language(tag=language).language == "zh" else " ").join(sentences)
    try:
        check_script_text(text=text, language=language)
    except ScriptRejected as rejection:
        _refuse(str(rejection), model)
    spoken = rewrite_for_speech(text=text, language=language)
    return split_sentences(text=spoken, language=language)


def _check_duration(duration_s: float, target_s: float, *, model: str | None) -> None:
    limit_s = target_s * (1 + LENGTH_TOLERANCE)
    if duration_s > limit_s:
        _refuse(
            f"it is too long: about {duration_s:.0f} s at the speaking rate, for a target of "
            f"{target_s:.0f} s (at most {limit_s:.0f} s accepted)",
            model,
        )


def _refuse(reason: str, model: str | None) -> NoReturn:
    raise PermanentEngineError(
        f"the script written by language model {model!r} was refused: {reason}. Nothing was "
        "passed on; try the 'extractive' engine or a stronger model"
    )
