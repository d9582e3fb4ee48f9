"""espeak-ng engine: formant speech synthesis with word and phoneme events, through ctypes."""

from __future__ import annotations

import ctypes
import enum
import sys
import threading
from array import array
from dataclasses import dataclass
from importlib import metadata
from typing import ClassVar

import espeakng_loader

from workers.cancellation import check_canceled, is_canceled
from workers.engines.base import Engine, EngineError, PermanentEngineError

# Constants from espeak-ng's speak_lib.h (API revision 12).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit() inside the worker
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE = 1
_EE_OK = 0
_EE_NOT_FOUND = 2

# Milliseconds of audio per callback. espeak sizes its per-callback event list from this
# (200 events per second of buffer, plus 20) and silently drops the events past it, so a
# generous buffer keeps every phoneme event even in fast speech.
_BUFFER_MS = 500

MIN_RATE_WPM = 80
# speak_lib.h documents 80..450; espeak adjusts other values without telling, we refuse them.
MAX_RATE_WPM = 450

# BCP 47 tag (lowercase) -> espeak-ng voice name. Lookup tries the full tag, then the
# primary language subtag. espeak's plain "en" voice is British English.
VOICES: dict[str, str] = {
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en",
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "zh-sg": "cmn",
    "zh-tw": "cmn",
    "zh-hant": "cmn",
    "cmn": "cmn",
    "es": "es",
    "es-419": "es-419",
    "es-mx": "es-419",
    "fr": "fr",
    "de": "de",
    "it": "it",
    "pt": "pt",
    "pt-br": "pt-br",
}


class EventType(enum.IntEnum):
    """espeak_EVENT_TYPE values."""

    LIST_TERMINATED = 0
    WORD = 1
    SENTENCE = 2
    MARK = 3
    PLAY = 4
    END = 5
    MSG_TERMINATED = 6
    PHONEME = 7
    SAMPLERATE = 8


_EVENT_TYPES = frozenset(EventType)


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class SynthEvent:
    """One espeak_EVENT, copied out of the C buffer.

    Attributes:
        type: what happened.
        text_position: 1-based position in the input, in characters (not UTF-8 bytes).
        length: word length in characters (word events only).
        audio_position_ms: time of the event in the audio, ms, rounded down.
        sample: time of the event in the audio, in samples from the start.
        phoneme: IPA name of the phoneme (phoneme events only; "" for a pause). espeak
            passes at most 8 UTF-8 bytes, so a very long name can be cut short.
    """

    type: EventType
    text_position: int
    length: int
    audio_position_ms: int
    sample: int
    phoneme: str | None = None


@dataclass(frozen=True)
class Synthesis:
    """Audio and events of one synthesis.

    Attributes:
        pcm: mono signed 16-bit little-endian samples.
        sample_rate: samples per second (22050 for espeak-ng's own voices).
        voice: the espeak-ng voice name used.
        rate_wpm: the speaking rate asked for, words per minute.
        events: word, phoneme, sentence and end events in audio order.
    """

    pcm: bytes
    sample_rate: int
    voice: str
    rate_wpm: int
    events: tuple[SynthEvent, ...]

    @property
    def n_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate


class _Collector:
    """Receives the callback's chunks of one synthesis."""

    def __init__(self) -> None:
        self.pcm = bytearray()
        self.events: list[SynthEvent] = []

    def add(
        self, wav: ctypes._Pointer[ctypes.c_short], n_samples: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if n_samples > 0:
            self.pcm += ctypes.string_at(wav, n_samples * 2)
        i = 0
        while events[i].type != EventType.LIST_TERMINATED:
            # An exception here would be printed and swallowed by ctypes, losing events.
            if events[i].type in _EVENT_TYPES:
                self.events.append(_copy_event(events[i]))
            i += 1
        # 1 = stop: a canceled stage run aborts between chunks (the callback runs in the
        # synthesising thread, so it sees that stage's cancellation flag)
        return 1 if is_canceled() else 0


def _copy_event(raw: _Event) -> SynthEvent:
    phoneme = None
    if raw.type == EventType.PHONEME:
        # ctypes reads the 8-byte name up to its NUL (there is none when all 8 are used);
        # a multi-byte IPA character cut at byte 8 is dropped rather than garbled.
        phoneme = raw.id.string.decode("utf-8", errors="ignore")
    return SynthEvent(
        type=EventType(raw.type),
        text_position=raw.text_position,
        length=raw.length,
        audio_position_ms=raw.audio_position,
        sample=raw.sample,
        phoneme=phoneme,
    )


class _Library:
    """The process-wide espeak-ng instance: its C state is global, so there is one."""

    lock = threading.Lock()
    lib: ctypes.CDLL | None = None
    sample_rate = 0
    collector: _Collector | None = None

    @classmethod
    def ensure_loaded(cls) -> ctypes.CDLL:
        with cls.lock:
            if cls.lib is None:
                cls.lib = _initialize()
            return cls.lib

    @classmethod
    def dispatch(
        cls, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        return cls.collector.add(wav, n, events) if cls.collector else 1


# Kept at module level: ctypes frees a callback whose Python object is garbage-collected.
_callback = _SynthCallback(_Library.dispatch)


def _initialize() -> ctypes.CDLL:
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path, options)
    if sample_rate <= 0:
        raise EngineError(f"espeak_Initialize failed ({sample_rate}) with data at {data_path!r}")
    lib.espeak_SetSynthCallback(_callback)
    _Library.sample_rate = sample_rate
    return lib


def voice_for_language(language: str) -> str:
    """Map a BCP 47 language tag to an espeak-ng voice name.

    Args:
        language: e.g. "en", "en-GB", "zh-CN" (case-insensitive).

    Returns:
        The voice name, e.g. "cmn" for "zh-CN".

    Raises:
        PermanentEngineError: no voice for the language; the message lists the supported tags.
    """
    tag = language.strip().replace("_", "-").lower()
    voice = VOICES.get(tag) or VOICES.get(tag.split("-", 1)[0])
    if voice is None:
        supported = ", ".join(sorted(VOICES))
        raise PermanentEngineError(
            f"espeak has no voice for language {language!r}; supported: {supported}"
        )
    return voice


class EspeakEngine(Engine):
    """Text to 16-bit mono speech with espeak-ng, reporting when each word and phoneme starts."""

    name: ClassVar[str] = "espeak"
    version: ClassVar[str] = "1"

    def load(self) -> None:
        _Library.ensure_loaded()

    def library_versions(self) -> dict[str, str]:
        lib = _Library.ensure_loaded()
        return {
            "espeak-ng": lib.espeak_Info(None).decode(),
            "espeakng-loader": metadata.version("espeakng-loader"),
        }

    def synthesize(
        self, text: str, *, language: str, rate_wpm: int, voice: str | None = None
    ) -> Synthesis:
        """Speak `text` and collect the audio with espeak's own timing events.

        Args:
            text: plain text (no SSML), any length.
            language: BCP 47 tag; picks the voice unless `voice` is given.
            rate_wpm: speaking rate, 80 to 450 words per minute.
            voice: an espeak-ng voice name that overrides the language's voice.

        Returns:
            The 22.05 kHz mono 16-bit audio and its events.

        Raises:
            PermanentEngineError: empty text, unknown language or voice, rate out of range.
            EngineError: espeak-ng failed while synthesising.
        """
        _check_request(text, rate_wpm)
        voice_name = voice or voice_for_language(language)
        lib = _Library.ensure_loaded()
        with _Library.lock:
            _select_voice(lib, voice_name, rate_wpm)
            collector = _Collector()
            _Library.collector = collector
            try:
                _synth(lib, text)
            except EngineError:
                check_canceled()  # an aborted synthesis may report a failure: say why
                raise
            finally:
                _Library.collector = None
        check_canceled()
        return Synthesis(
            pcm=_little_endian(collector.pcm),
            sample_rate=_Library.sample_rate,
            voice=voice_name,
            rate_wpm=rate_wpm,
            events=tuple(collector.events),
        )


def _check_request(text: str, rate_wpm: int) -> None:
    if not text.strip():
        raise PermanentEngineError("nothing to speak: the text is empty or only whitespace")
    if "\0" in text:
        raise PermanentEngineError("the text contains a NUL character, which espeak cannot read")
    if not MIN_RATE_WPM <= rate_wpm <= MAX_RATE_WPM:
        raise PermanentEngineError(
            f"rate_wpm={rate_wpm} is outside espeak's range {MIN_RATE_WPM}..{MAX_RATE_WPM}"
        )


def _select_voice(lib: ctypes.CDLL, voice_name: str, rate_wpm: int) -> None:
    # A failed SetVoiceByName keeps the previous voice, so the result must be checked.
    result = lib.espeak_SetVoiceByName(voice_name.encode())
    if result == _EE_NOT_FOUND:
        raise PermanentEngineError(f"espeak-ng has no voice named {voice_name!r}")
    if result != _EE_OK:
        raise EngineError(f"espeak_SetVoiceByName({voice_name!r}) failed with {result}")
    # Set on every call: the rate is global state left over from the previous synthesis.
    if lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0) != _EE_OK:
        raise EngineError(f"espeak_SetParameter(rate={rate_wpm}) failed")


def _synth(lib: ctypes.CDLL, text: str) -> None:
    data = text.encode("utf-8")
    # In synchronous mode espeak_Synth returns after the last callback; `size` only sizes
    # the queue of the asynchronous modes, but pass the true size anyway.
    result = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    if result != _EE_OK:
        raise EngineError(f"espeak_Synth failed with {result}")


def _little_endian(pcm: bytearray) -> bytes:
    if sys.byteorder == "little":
        return bytes(pcm)
    samples = array("h", pcm)
    samples.byteswap()
    return samples.tobytes()
