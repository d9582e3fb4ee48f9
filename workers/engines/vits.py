"""VITS/MMS speech engine: a local transformers VitsModel, with word timings from its durations.

The model folder (MEDIAQ_TTS_MODEL_DIR) holds a VitsModel and its VitsTokenizer, opened with
local_files_only=True; the sample rate is the model config's `sampling_rate`.

Timings come from the model's own predicted durations, not from forced alignment. VitsModel
does not return them, so `_infer` runs the model's parts in the order VitsModel.forward does
(text encoder, duration predictor, length regulation, flow, HiFi-GAN decoder) and keeps the
per-token frame counts; a test checks that the waveform equals VitsModel's own for the same
seed. Each token lasts `duration x hop` samples (hop = product of the upsample rates); tokens
are characters with a blank between each pair, so a character owns itself and the blank
after it, and its place in the script comes from `workers.speech.char_timing`.

The script is spoken sentence by sentence (bounded memory, a short pause between), each
sentence with its own seed, so the same text, model and seed give the same audio. The
HiFi-GAN decoder, where most of the time goes, runs through the shared runner
(workers.engines.neural.runtime): TensorRT on a GPU worker when it passes the accuracy
check, else torch; the rest of the model runs in torch.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from workers.engines.base import Engine, EngineError, PermanentEngineError
from workers.engines.neural.config import NeuralConfig, neural_config_from_settings
from workers.engines.neural.device import RuntimeInfo
from workers.engines.neural.weights import (
    LocalWeights,
    digest_path,
    library_versions,
    pretrained_kwargs,
    require_local_path,
)
from workers.speech import UnsupportedLanguageError
from workers.speech.char_timing import CharTime, align_characters, spread_characters
from workers.speech.sentences import split_sentences

SETTING = "MEDIAQ_TTS_MODEL_DIR"
SENTENCE_PAUSE_S = 0.25
SPEAKING_RATE_RANGE = (0.5, 2.0)
# Decoder frames a TensorRT plan accepts (about 30 s of speech at MMS's 16 kHz and hop 256);
# a longer sentence runs the decoder in torch.
DECODER_FRAMES = (1, 256, 2048)
# ISO 639-3 codes MMS tokenizers carry -> the BCP 47 primary subtag scripts use.
_ISO_639_3 = {
    "eng": "en", "spa": "es", "cmn": "zh", "zho": "zh", "fra": "fr", "deu": "de",
    "ita": "it", "por": "pt", "nld": "nl", "rus": "ru", "jpn": "ja", "kor": "ko",
}  # fmt: skip


@dataclass(frozen=True)
class VitsSpeech:
    """Audio and character times of one synthesis.

    Attributes:
        samples: mono float32 samples in [-1, 1].
        sample_rate: Hz, from the model config.
        chars: each spoken character with its place in the text and its time.
        pauses: (start_s, end_s) of the silences put between sentences.
        voice: the model folder's name (and "#speaker" for multi-speaker models).
        is_aligned: False when the tokenizer rewrote the text (romanized, phonemized), so
            characters were spread evenly over each sentence instead of matched.
    """

    samples: np.ndarray
    sample_rate: int
    chars: tuple[CharTime, ...]
    pauses: tuple[tuple[float, float], ...]
    voice: str
    is_aligned: bool

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def pcm16(self) -> bytes:
        """Signed 16-bit little-endian PCM."""
        clipped = np.clip(self.samples, -1.0, 1.0)
        pcm: bytes = np.rint(clipped * 32767.0).astype("<i2").tobytes()
        return pcm


@dataclass(frozen=True)
class _Sentence:
    """One sentence's audio and, per spoken character, its start and end in samples."""

    samples: np.ndarray
    chars: list[tuple[int, str, int, int]]  # (char_index in text, char, start, end)
    is_aligned: bool


class VitsEngine(LocalWeights, Engine):
    """Text to speech with a local VITS/MMS model; one instance per worker process.

    Args:
        config: device, backend and precision settings; None reads the process Settings.
        model_dir: the model folder; None reads Settings.tts_model_dir.
    """

    name: ClassVar[str] = "vits"
    # Bump when the same model, text and seed would sound different (cache key).
    version: ClassVar[str] = "1.0.0"
    device: ClassVar[str] = "gpu"  # runs on the CPU too

    def __init__(
        self, config: NeuralConfig | None = None, *, model_dir: Path | str | None = None
    ) -> None:
        self._config = config
        self._model_dir = model_dir
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._digest: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._decoder: Any = None  # a ModelRunner, or None to run model.decoder in torch
        self._runtime: RuntimeInfo | None = None
        self._device = "cpu"

    @property
    def runtime(self) -> RuntimeInfo:
        """What runs the model (the decoder's backend and precision), after load()."""
        if self._runtime is None:
            raise EngineError("the vits engine is not loaded")
        return self._runtime

    @property
    def sample_rate(self) -> int:
        return int(self._model.config.sampling_rate)

    def load(self) -> None:
        """Open the tokenizer and model, and the decoder's runner (TensorRT or torch).

        Raises:
            PermanentEngineError: no folder configured, nothing there, or not a VITS model.
        """
        from transformers import VitsModel, VitsTokenizer

        from workers.engines.neural.device import resolve_device

        config = self._config or neural_config_from_settings()
        path = require_local_path(config=config, path=self._configured_dir(), setting=SETTING)
        try:
            tokenizer = VitsTokenizer.from_pretrained(path, **pretrained_kwargs())
            model: Any = VitsModel.from_pretrained(path, **pretrained_kwargs())
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PermanentEngineError(
                f"{path} is not a VitsModel folder with a VitsTokenizer ({SETTING}): {error}"
            ) from error
        self._device = resolve_device(config)
        self._model = model.to(self._device).eval()
        self._tokenizer = tokenizer
        self._path, self._digest = path, digest_path(path)
        self._decoder, self._runtime = _open_decoder(model, config, self._digest, self._device)

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
        self._model = self._tokenizer = self._decoder = None

    def runtime_info(self) -> dict[str, str]:
        """The decoder's backend, precision and device, for provenance (empty before load())."""
        return self._runtime.as_dict() if self._runtime is not None else {}

    def library_versions(self) -> dict[str, str]:
        return library_versions("torch", "transformers")

    def _configured_dir(self) -> Path | str | None:
        if self._model_dir is not None:
            return self._model_dir
        from producer.settings import get_settings

        return getattr(get_settings(), "tts_model_dir", None)

    def synthesize(
        self,
        *,
        text: str,
        language: str,
        speaking_rate: float | None = None,
        speaker: int | None = None,
        seed: int = 0,
    ) -> VitsSpeech:
        """Speak `text` sentence by sentence and time every spoken character.

        Args:
            text: plain narration text (numbers already spelled out).
            language: BCP 47 tag; refused when the tokenizer names another language.
            speaking_rate: 0.5 to 2.0, faster above 1; None uses the model config's.
            speaker: speaker index for multi-speaker models.
            seed: seeds the model's noise; sentence i uses seed + i.

        Returns:
            The audio and its character times.

        Raises:
            PermanentEngineError: empty text, another language, a bad rate or speaker, or
                text the voice's vocabulary cannot read at all.
        """
        if self._model is None:
            raise EngineError("the vits engine is not loaded")
        self._check_request(text, language, speaking_rate, speaker)
        rate = speaking_rate if speaking_rate is not None else self._model.config.speaking_rate
        pieces = [
            self._speak(sentence, start, rate, speaker, seed + index)
            for index, (start, sentence) in enumerate(_sentences(text, language))
        ]
        return self._join(pieces, speaker)

    def _check_request(
        self, text: str, language: str, speaking_rate: float | None, speaker: int | None
    ) -> None:
        if not text.strip():
            raise PermanentEngineError("nothing to speak: the text is empty or only whitespace")
        voice_language = _ISO_639_3.get(str(getattr(self._tokenizer, "language", "") or ""))
        primary = language.replace("_", "-").split("-", 1)[0].lower()
        if voice_language is not None and voice_language != primary:
            raise PermanentEngineError(
                f"the voice {self.model_id!r} speaks {self._tokenizer.language!r} "
                f"({voice_language}), the script is {language!r}: configure a model for it"
            )
        low, high = SPEAKING_RATE_RANGE
        if speaking_rate is not None and not low <= speaking_rate <= high:
            raise PermanentEngineError(f"speaking_rate must be {low}..{high}, got {speaking_rate}")
        speakers = int(self._model.config.num_speakers)
        if speaker is not None and not 0 <= speaker < speakers:
            raise PermanentEngineError(f"speaker must be 0..{speakers - 1}, got {speaker}")

    def _speak(
        self, sentence: str, offset: int, rate: float, speaker: int | None, seed: int
    ) -> _Sentence:
        spoken = self._tokenizer.prepare_for_tokenization(sentence)[0]
        input_ids = self._tokenizer(sentence, return_tensors="pt")["input_ids"]
        if not spoken or input_ids.shape[1] == 0:
            return _Sentence(np.zeros(0, np.float32), [], True)
        with self._lock:
            samples, frames = self._infer(input_ids, rate=rate, speaker=speaker, seed=seed)
        hop = math.prod(self._model.config.upsample_rates)
        return _time_characters(sentence, offset, spoken, samples, frames * hop, self._blank())

    def _blank(self) -> bool:
        return bool(self._tokenizer.add_blank)

    def _infer(
        self, input_ids: Any, *, rate: float, speaker: int | None, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Waveform and per-token frame counts, computed as VitsModel.forward computes them."""
        import torch

        model = self._model
        devices = [torch.cuda.current_device()] if self._device == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            ids = input_ids.to(self._device)
            mask = torch.ones_like(ids).unsqueeze(-1).to(model.text_encoder.embed_tokens.weight)
            speaker_embedding = _speaker_embedding(model, speaker, self._device)
            encoded = model.text_encoder(input_ids=ids, padding_mask=mask, return_dict=True)
            hidden = encoded.last_hidden_state.transpose(1, 2)
            mask = mask.transpose(1, 2)
            log_duration = _log_duration(model, hidden, mask, speaker_embedding)
            length_scale = 1.0 / rate  # the same arithmetic as VitsModel, so ceil() agrees
            duration = torch.ceil(torch.exp(log_duration) * mask * length_scale)[0, 0]
            means, log_variances = _expand(encoded, duration)
            noise = torch.randn_like(means) * torch.exp(log_variances) * model.noise_scale
            out_mask = torch.ones_like(means[:, :1])
            latents = model.flow(means + noise, out_mask, speaker_embedding, reverse=True)
            waveform = self._decode(latents * out_mask, speaker_embedding)
        return waveform.float().cpu().numpy().reshape(-1), duration.long().cpu().numpy()

    def _decode(self, spectrogram: Any, speaker_embedding: Any) -> Any:
        frames = spectrogram.shape[-1]
        if self._decoder is not None and DECODER_FRAMES[0] <= frames <= DECODER_FRAMES[2]:
            return self._decoder.run({"spectrogram": spectrogram})["waveform"]
        return self._model.decoder(spectrogram, speaker_embedding)

    def _join(self, pieces: list[_Sentence], speaker: int | None) -> VitsSpeech:
        rate = self.sample_rate
        pause = np.zeros(round(SENTENCE_PAUSE_S * rate), np.float32)
        parts: list[np.ndarray] = []
        chars: list[CharTime] = []
        pauses: list[tuple[float, float]] = []
        position = 0
        for sentence in pieces:
            if not len(sentence.samples):
                continue
            if parts:
                parts.append(pause)
                pauses.append((position / rate, (position + len(pause)) / rate))
                position += len(pause)
            chars += [
                CharTime(index, char, (position + start) / rate, (position + end) / rate)
                for index, char, start, end in sentence.chars
            ]
            parts.append(sentence.samples)
            position += len(sentence.samples)
        if not chars:
            raise PermanentEngineError(
                f"the voice {self.model_id!r} cannot read any character of the text: its "
                "vocabulary is for another language or script"
            )
        voice = self.model_id or "vits"
        return VitsSpeech(
            samples=np.concatenate(parts),
            sample_rate=rate,
            chars=tuple(chars),
            pauses=tuple(pauses),
            voice=voice if speaker is None else f"{voice}#{speaker}",
            is_aligned=all(sentence.is_aligned for sentence in pieces),
        )


def _sentences(text: str, language: str) -> list[tuple[int, str]]:
    """(offset in text, sentence) pairs; one piece when the language has no sentence rules."""
    try:
        sentences = split_sentences(text=text, language=language)
    except UnsupportedLanguageError:
        sentences = [text.strip()]
    pieces, cursor = [], 0
    for sentence in sentences:
        start = text.index(sentence, cursor)
        pieces.append((start, sentence))
        cursor = start + len(sentence)
    return pieces


def _time_characters(
    sentence: str, offset: int, spoken: str, samples: np.ndarray, lengths: np.ndarray, blank: bool
) -> _Sentence:
    """Tie each token's samples to a character of the sentence (offset into the full text)."""
    ends = np.cumsum(lengths)
    starts = ends - lengths
    # With blanks, token 2k+1 is character k and the blank after it belongs to it too.
    char_tokens = range(1, len(lengths), 2) if blank else range(len(lengths))
    count = len(char_tokens)
    positions = align_characters(text=sentence, spoken=spoken) if count == len(spoken) else None
    is_aligned = positions is not None
    if positions is None:
        positions = spread_characters(text=sentence, count=count)
    chars = []
    for k, (token, position) in enumerate(zip(char_tokens, positions, strict=True)):
        end_token = min(token + 1, len(lengths) - 1) if blank else token
        name = spoken[k] if is_aligned else sentence[position]
        chars.append((offset + position, name, int(starts[token]), int(ends[end_token])))
    return _Sentence(samples[: int(ends[-1])] if len(ends) else samples, chars, is_aligned)


def _speaker_embedding(model: Any, speaker: int | None, device: str) -> Any:
    import torch

    if model.config.num_speakers <= 1 or speaker is None:
        return None
    return model.embed_speaker(torch.tensor([speaker], device=device)).unsqueeze(-1)


def _log_duration(model: Any, hidden: Any, mask: Any, speaker_embedding: Any) -> Any:
    if model.config.use_stochastic_duration_prediction:
        return model.duration_predictor(
            hidden, mask, speaker_embedding, reverse=True, noise_scale=model.noise_scale_duration
        )
    return model.duration_predictor(hidden, mask, speaker_embedding)


def _expand(encoded: Any, duration: Any) -> tuple[Any, Any]:
    """Repeat each token's prior `duration` times: (1, channels, frames) means and log-variances.

    VitsModel does this with an alignment matrix; for one unpadded sentence that is the same
    as repeating rows. It never makes fewer than one frame (VitsModel clamps the length to 1).
    """
    import torch

    counts = duration.long()
    if int(counts.sum()) == 0:
        zeros = torch.zeros_like(encoded.prior_means[:, :1]).transpose(1, 2)
        return zeros, zeros
    means = encoded.prior_means[0].repeat_interleave(counts, dim=0).T.unsqueeze(0)
    log_variances = encoded.prior_log_variances[0].repeat_interleave(counts, dim=0).T.unsqueeze(0)
    return means, log_variances


def _open_decoder(
    model: Any, config: NeuralConfig, digest: str, device: str
) -> tuple[Any, RuntimeInfo]:
    """The HiFi-GAN decoder on the best backend, or None (torch) for multi-speaker models."""
    import torch

    from workers.engines.neural.device import Precision, device_name, torch_backend
    from workers.engines.neural.plan_cache import ShapeRange
    from workers.engines.neural.runtime import open_runner
    from workers.engines.neural.spec import ModelSpec

    if model.config.num_speakers > 1:
        # The speaker conditioning would be a second input; not worth a plan yet.
        reason = "multi-speaker decoder runs in torch" if config.backend == "tensorrt" else None
        info = RuntimeInfo(torch_backend(device), Precision.FP32, device_name(device), reason)
        return None, info
    channels = int(model.config.flow_size)
    low, opt, high = DECODER_FRAMES
    example = torch.randn(1, channels, opt, generator=torch.Generator().manual_seed(0))
    spec = ModelSpec(
        name="vits-decoder",
        module=model.decoder.to("cpu").eval(),
        weights_digest=digest,
        example_inputs={"spectrogram": example},
        output_names=("waveform",),
        dynamic_axes={
            "spectrogram": {0: "batch", 2: "frames"},
            "waveform": {0: "batch", 2: "samples"},
        },
        profile={
            "spectrogram": ShapeRange((1, channels, low), (1, channels, opt), (4, channels, high))
        },
    )
    runner = open_runner(spec=spec, config=config)
    model.decoder.to(device)
    return runner, runner.info
