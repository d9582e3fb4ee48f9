"""tts stage: narration audio plus word and phoneme timings taken from the synthesizer's events."""

from __future__ import annotations

import bisect
import json
import unicodedata
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.espeak import EspeakEngine, EventType, Synthesis, SynthEvent
from workers.engines.vits import VitsEngine, VitsSpeech
from workers.speech.char_timing import phoneme_timings as char_phoneme_timings
from workers.speech.char_timing import word_timings as char_word_timings
from workers.stages.base import Stage, StageOutput

# Default speaking rate per primary language subtag, in espeak words per minute. Chosen so
# espeak's pace lands near 15-17 characters per second, which viewers can read as subtitles
# (French words run short in espeak, so it goes slower), and near 4 characters per second
# for Mandarin, a calm news pace.
DEFAULT_RATE_WPM: dict[str, int] = {
    "en": 150,
    "es": 150,
    "de": 150,
    "fr": 135,
    "it": 160,
    "pt": 160,
    "zh": 190,
    "cmn": 190,
}
FALLBACK_RATE_WPM = 150

PAUSE = "_"  # espeak's name for silence; its IPA events leave the name empty


@dataclass
class _Word:
    char_start: int
    start_sample: int
    last_event_sample: int  # the latest event merged into this word (numbers give several)


class TextToSpeech(Stage):
    """Speak the script's narration: a WAV plus word and phoneme timings for subtitles and lips.

    Inputs: "script", JSON with "language" and "text" (the full narration).
    Params with espeak: "rate_wpm" (default per language, see DEFAULT_RATE_WPM), "voice"
    (espeak voice name overriding the language's voice).
    Params with vits: "speaking_rate" (0.5..2.0, default the model's), "speaker" (index, for
    multi-speaker models), "seed" (integer seeding the model's noise, default 0).
    """

    kind: ClassVar[str] = "tts"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"espeak": EspeakEngine, "vits": VitsEngine}
    outputs: ClassVar[tuple[str, ...]] = ("audio", "timings")

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Synthesize the script.

        Returns:
            "audio": mono 16-bit PCM WAV (22.05 kHz with espeak, the model's rate with vits);
            "timings": JSON with sample_rate, duration_s, language, voice, rate_wpm, words
            and phonemes (with vits: spoken characters, and rate_wpm as measured).

        Raises:
            PermanentEngineError: missing or empty text, unknown language, voice or rate.
        """
        if isinstance(engine, VitsEngine):
            return _run_vits(engine, inputs=inputs, item=item, params=params, workdir=workdir)
        if not isinstance(engine, EspeakEngine):
            raise PermanentEngineError(f"tts cannot run on engine {engine.name!r}")
        language, text = read_script(inputs["script"], item=item)
        rate_wpm = _rate_param(params, language)
        synthesis = engine.synthesize(
            text, language=language, rate_wpm=rate_wpm, voice=_voice_param(params)
        )
        audio_path = workdir / "narration.wav"
        write_wav(audio_path, synthesis)
        timings_path = workdir / "timings.json"
        timings = build_timings(text, synthesis, language=language)
        timings_path.write_text(json.dumps(timings, ensure_ascii=False, indent=1), "utf-8")
        return [
            StageOutput("audio", audio_path, "audio/wav", duration_s=synthesis.duration_s),
            StageOutput("timings", timings_path, "application/json"),
        ]


def _run_vits(
    engine: VitsEngine,
    *,
    inputs: Mapping[str, Path],
    item: Mapping[str, Any],
    params: Mapping[str, Any],
    workdir: Path,
) -> list[StageOutput]:
    """The vits engine's run: same outputs, times from the model's predicted durations."""
    espeak_only = sorted({"rate_wpm", "voice"} & set(params))
    if espeak_only:
        raise PermanentEngineError(
            f"params {espeak_only} are espeak's; with vits use speaking_rate, speaker, seed"
        )
    language, text = read_script(inputs["script"], item=item)
    speech = engine.synthesize(
        text=text,
        language=language,
        speaking_rate=_number_param(params, "speaking_rate"),
        speaker=_int_param(params, "speaker"),
        seed=_int_param(params, "seed") or 0,
    )
    audio_path = workdir / "narration.wav"
    with wave.open(str(audio_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(speech.sample_rate)
        wav.writeframes(speech.pcm16())
    timings_path = workdir / "timings.json"
    timings = build_char_timings(text, speech, language=language)
    timings_path.write_text(json.dumps(timings, ensure_ascii=False, indent=1), "utf-8")
    return [
        StageOutput("audio", audio_path, "audio/wav", duration_s=speech.duration_s),
        StageOutput("timings", timings_path, "application/json"),
    ]


def build_char_timings(text: str, speech: VitsSpeech, *, language: str) -> dict[str, Any]:
    """The timings JSON of a character-level voice: rate_wpm is the measured pace, and
    word_timing says whether characters were matched to the text or spread evenly."""
    words = char_word_timings(text=text, chars=speech.chars)
    minutes = speech.duration_s / 60.0
    return {
        "sample_rate": speech.sample_rate,
        "duration_s": speech.duration_s,
        "language": language,
        "voice": speech.voice,
        "rate_wpm": round(len(words) / minutes) if minutes > 0 else 0,
        "word_timing": "model-durations" if speech.is_aligned else "model-durations-spread",
        "words": words,
        "phonemes": char_phoneme_timings(
            chars=speech.chars, pauses=speech.pauses, duration_s=speech.duration_s
        ),
    }


def _number_param(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PermanentEngineError(f"params.{name} must be a number, got {value!r}")
    return None if value is None else float(value)


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise PermanentEngineError(f"params.{name} must be an integer, got {value!r}")
    return value


def read_script(path: Path, *, item: Mapping[str, Any]) -> tuple[str, str]:
    """Return (language, text) from the script JSON; the item's language is the fallback."""
    try:
        script = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentEngineError(f"the script is not UTF-8 JSON: {error}") from error
    if not isinstance(script, dict):
        raise PermanentEngineError("the script JSON must be an object with 'language' and 'text'")
    language = script.get("language") or item.get("language")
    text = script.get("text")
    if not isinstance(language, str) or not language:
        raise PermanentEngineError("the script has no language and neither has the item")
    if not isinstance(text, str):
        raise PermanentEngineError("the script JSON has no string field 'text' to speak")
    return language, text


def _rate_param(params: Mapping[str, Any], language: str) -> int:
    rate = params.get("rate_wpm")
    if rate is None:
        primary = language.replace("_", "-").split("-", 1)[0].lower()
        return DEFAULT_RATE_WPM.get(primary, FALLBACK_RATE_WPM)
    if isinstance(rate, bool) or not isinstance(rate, int):
        raise PermanentEngineError(f"params.rate_wpm must be an integer, got {rate!r}")
    return rate


def _voice_param(params: Mapping[str, Any]) -> str | None:
    voice = params.get("voice")
    if voice is not None and (not isinstance(voice, str) or not voice):
        raise PermanentEngineError(f"params.voice must be an espeak voice name, got {voice!r}")
    return voice


def write_wav(path: Path, synthesis: Synthesis) -> None:
    """Write the synthesis as a mono 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(synthesis.sample_rate)
        wav.writeframes(synthesis.pcm)


def build_timings(text: str, synthesis: Synthesis, *, language: str) -> dict[str, Any]:
    """The timings JSON: every time comes from an espeak event's sample position."""
    return {
        "sample_rate": synthesis.sample_rate,
        "duration_s": synthesis.duration_s,
        "language": language,
        "voice": synthesis.voice,
        "rate_wpm": synthesis.rate_wpm,
        "words": word_timings(text, synthesis),
        "phonemes": phoneme_timings(synthesis),
    }


def phoneme_timings(synthesis: Synthesis) -> list[dict[str, Any]]:
    """Phonemes in IPA ("_" for a pause), each lasting until the next one starts."""
    events = [e for e in synthesis.events if e.type == EventType.PHONEME]
    ends = [e.sample for e in events[1:]] + [synthesis.n_samples]
    rate = synthesis.sample_rate
    return [
        {"phoneme": e.phoneme or PAUSE, "start_s": e.sample / rate, "end_s": end / rate}
        for e, end in zip(events, ends, strict=True)
        if end > e.sample  # espeak repeats a pause event at each clause end, with no length
    ]


def word_timings(text: str, synthesis: Synthesis) -> list[dict[str, Any]]:
    """Words with their spans of `text` and the times espeak reported for them.

    espeak emits one event per spoken word, not per written one: "1,240" gives four events
    and a dictionary phrase ("déjà vu", Chinese "早上") gives one whose later positions are
    off. So each event is snapped to the start of the written token it falls in, events in
    the same token are merged, and a word's span runs to the next word: together the
    words cover every non-space character of the text, in order.
    """
    words = _merge_word_events(text, synthesis.events)
    if not words:
        return []
    words[0].char_start = _skip_space(text, 0)  # leading punctuation belongs to word one
    phonemes = [e for e in synthesis.events if e.type == EventType.PHONEME]
    samples = [e.sample for e in phonemes]
    rate = synthesis.sample_rate
    result = []
    for i, word in enumerate(words):
        is_last = i + 1 == len(words)
        next_sample = synthesis.n_samples if is_last else words[i + 1].start_sample
        next_char = len(text) if is_last else words[i + 1].char_start
        char_end = len(text[:next_char].rstrip())
        end_sample = _speech_end(phonemes, samples, word.last_event_sample, next_sample)
        result.append(
            {
                "text": text[word.char_start : char_end],
                "start_s": word.start_sample / rate,
                "end_s": end_sample / rate,
                "char_start": word.char_start,
                "char_end": char_end,
            }
        )
    return result


def _merge_word_events(text: str, events: tuple[SynthEvent, ...]) -> list[_Word]:
    words: list[_Word] = []
    for event in events:
        if event.type != EventType.WORD:
            continue
        # text_position counts characters (not UTF-8 bytes) from 1.
        position = event.text_position - 1
        if not 0 <= position < len(text):
            continue
        char_start = _token_start(text, position)
        if words and char_start <= words[-1].char_start:
            words[-1].last_event_sample = event.sample
            continue
        words.append(_Word(char_start, event.sample, event.sample))
    return words


def _token_start(text: str, position: int) -> int:
    """Start of the token holding `position`: whitespace-separated, or one wide (CJK) char."""
    position = _skip_space(text, position)
    while position > 0 and not _is_token_start(text, position):
        position -= 1
    return position


def _is_token_start(text: str, position: int) -> bool:
    before, here = text[position - 1], text[position]
    return before.isspace() or _is_wide(before) or _is_wide(here)


def _is_wide(char: str) -> bool:
    # Han, kana and full-width punctuation: scripts written without spaces between words.
    return unicodedata.east_asian_width(char) in ("W", "F")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) - 1 and text[position].isspace():
        position += 1
    return position


def _speech_end(phonemes: list[SynthEvent], samples: list[int], start: int, end: int) -> int:
    """Where a word's sound stops: at the silence trailing it (a comma, a full stop), else `end`.

    Only a pause that lasts until the next word counts: espeak also puts short pauses
    inside words ("re-opened") and before vowel-initial words.
    """
    trailing_pause = None
    for event in phonemes[bisect.bisect_right(samples, start) : bisect.bisect_left(samples, end)]:
        if event.phoneme:
            trailing_pause = None
        elif trailing_pause is None:
            trailing_pause = event.sample
    return end if trailing_pause is None else trailing_pause
