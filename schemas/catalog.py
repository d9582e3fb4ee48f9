"""The stage kinds mediaq knows, their engines and ports: what templates are validated against.

The workers' stage registry must match this table (a test checks it). Adding a stage kind means
adding it here and adding a module under workers/stages/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageKindSpec:
    """What a stage kind accepts and produces.

    Attributes:
        engines: engine names, the first is the default.
        input_ports: ports a template may wire upstream outputs into.
        output_ports: ports the stage always produces.
        list_ports: input ports that always receive a list of files (fan-in), even from one
            upstream run.
        gpu_engines: engines whose runs go to the `gpu` queue (neural networks).
    """

    engines: tuple[str, ...]
    input_ports: tuple[str, ...]
    output_ports: tuple[str, ...]
    list_ports: tuple[str, ...] = ()
    gpu_engines: tuple[str, ...] = ()


STAGE_KINDS: dict[str, StageKindSpec] = {
    "script": StageKindSpec(
        engines=("extractive", "causal_lm"),
        input_ports=(),
        output_ports=("script",),
        gpu_engines=("causal_lm",),
    ),
    "tts": StageKindSpec(
        engines=("espeak", "vits"),
        input_ports=("script",),
        output_ports=("audio", "timings"),
        gpu_engines=("vits",),
    ),
    "fetch": StageKindSpec(engines=("https",), input_ports=("source",), output_ports=("image",)),
    "anchor": StageKindSpec(
        engines=("avatar2d", "wav2lip"),
        input_ports=("audio", "timings", "portrait"),
        output_ports=("video",),
        gpu_engines=("wav2lip",),
    ),
    "subtitles": StageKindSpec(
        engines=("rules",), input_ports=("timings", "script"), output_ports=("vtt", "srt", "cues")
    ),
    "upscale": StageKindSpec(
        engines=("lanczos", "esrgan"),
        input_ports=("media",),
        output_ports=("media",),
        gpu_engines=("esrgan",),
    ),
    "compose": StageKindSpec(
        engines=("ffmpeg",),
        input_ports=("video", "audio", "subtitles"),
        output_ports=("video", "poster", "loudness"),
    ),
    "showcase": StageKindSpec(
        engines=("kenburns",),
        input_ports=("stills", "audio", "timings", "script"),
        output_ports=("video",),
        list_ports=("stills",),
    ),
    "credentials": StageKindSpec(
        engines=("c2pa",),
        input_ports=("media", "ingredients"),
        output_ports=("media", "manifest"),
        list_ports=("ingredients",),
    ),
}
