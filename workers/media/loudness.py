"""Loudness (EBU R128 / ITU-R BS.1770): measure it, and plan the gain that reaches a target.

Normalisation is two-pass and linear: measure the narration, then apply one constant gain
computed from the measurement. When that gain would push the true peak over the ceiling, a
look-ahead limiter catches the few peaks above it, and the gain is corrected by measuring
the limited result again (the limiter takes a little loudness away).

ffmpeg's loudnorm filter is not used for the second pass: when linear gain would break the
peak ceiling, which is the usual case for espeak narration at -16 LUFS (peaks at -2 dBFS
around -21 LUFS), it falls back to its dynamic mode, which landed 0.6-1.0 LU short of the
target on a minute of narration and resamples everything to 192 kHz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workers.engines.base import EngineError, PermanentEngineError
from workers.media.ffmpeg import run_ffmpeg

# ebur128 reports silence (or audio shorter than one 400 ms block) as -70 LUFS.
SILENCE_LUFS = -70.0
OUTPUT_SAMPLE_RATE = 48_000
# The limiter works on samples, but AAC encoding and inter-sample peaks add up to 0.9 dB of
# true peak on speech (measured by the media bench), so it aims that much below the ceiling.
_LIMITER_MARGIN_DB = 1.0
_GAIN_TOLERANCE_LU = 0.2
_MAX_CORRECTIONS = 3

_SUMMARY = re.compile(
    r"Integrated loudness:\s+I:\s+(?P<i>-?[\d.]+|-inf) LUFS.*?"
    r"Loudness range:\s+LRA:\s+(?P<lra>[\d.]+) LU.*?"
    r"True peak:\s+Peak:\s+(?P<tp>-?[\d.]+|-inf) dBFS",
    re.DOTALL,
)


@dataclass(frozen=True)
class Loudness:
    """One measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float


def measure_loudness(*, path: Path, audio_filter: str | None = None) -> Loudness:
    """Measure the first audio stream of `path`, optionally after `audio_filter`.

    Args:
        path: any file ffmpeg reads (WAV, MP4, M4A).
        audio_filter: an ffmpeg audio filter chain applied before measuring.

    Returns:
        The EBU R128 summary, to 0.1 LU / 0.1 dB.

    Raises:
        EngineError: ffmpeg failed, e.g. the file has no audio stream.
    """
    # framelog=verbose keeps the ten-per-second meter lines out of the log we parse.
    meter = "ebur128=peak=true:framelog=verbose"
    chain = f"{audio_filter},{meter}" if audio_filter else meter
    log = run_ffmpeg(
        ["-nostats", "-i", str(path), "-map", "0:a:0", "-af", chain, "-f", "null", "-"]
    )
    match = _SUMMARY.search(log)
    if not match:
        raise EngineError(f"ffmpeg printed no loudness summary for {path.name}")
    return Loudness(
        integrated_lufs=float(match["i"]),
        true_peak_dbtp=float(match["tp"]),
        lra_lu=float(match["lra"]),
    )


def plan_normalisation(
    *, audio_path: Path, measured: Loudness, target_lufs: float, true_peak_dbtp: float
) -> str:
    """The audio filter chain that brings `audio_path` to `target_lufs` under the ceiling.

    Args:
        audio_path: the audio that `measured` describes; measured again when limiting.
        measured: the first-pass measurement of `audio_path`.
        target_lufs: integrated loudness to reach (e.g. -16 or -23).
        true_peak_dbtp: ceiling for the true peak (e.g. -1.5).

    Returns:
        An ffmpeg filter chain ending at 48 kHz: resampling, gain, and a limiter if needed.

    Raises:
        PermanentEngineError: the audio is silent or shorter than one measuring block.
    """
    if measured.integrated_lufs <= SILENCE_LUFS:
        raise PermanentEngineError(
            "the narration is silent or shorter than 0.4 s: its loudness cannot be measured"
        )
    gain_db = target_lufs - measured.integrated_lufs
    limit_dbfs = true_peak_dbtp - _LIMITER_MARGIN_DB
    # the margin applies with or without the limiter: AAC adds its overshoot either way
    if measured.true_peak_dbtp + gain_db <= limit_dbfs:
        return _chain(gain_db, limit_dbfs=None)
    for _ in range(_MAX_CORRECTIONS):
        limited = measure_loudness(path=audio_path, audio_filter=_chain(gain_db, limit_dbfs))
        shortfall_lu = target_lufs - limited.integrated_lufs
        if abs(shortfall_lu) <= _GAIN_TOLERANCE_LU:
            break
        gain_db += shortfall_lu
    return _chain(gain_db, limit_dbfs)


def _chain(gain_db: float, limit_dbfs: float | None) -> str:
    # volume works in float, so a boost never clips before the limiter sees it.
    steps = [f"aresample={OUTPUT_SAMPLE_RATE}", f"volume={gain_db:.2f}dB"]
    if limit_dbfs is not None:
        # level=false: no auto-gain; latency=true: the look-ahead delay is compensated.
        limit = 10 ** (limit_dbfs / 20)
        steps.append(f"alimiter=limit={limit:.4f}:attack=1:release=50:level=false:latency=true")
    return ",".join(steps)
