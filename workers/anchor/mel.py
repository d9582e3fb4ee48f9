"""Narration audio to the lip-sync contract's mel windows, one per video frame, in numpy.

The settings and the alignment are documented in workers.anchor.lipsync_contract. No librosa:
the STFT is numpy's rfft over strided frames and the Slaney mel filter bank is built here.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import numpy as np

from workers.anchor.lipsync_contract import (
    FMAX_HZ,
    FMIN_HZ,
    HOP_LENGTH,
    MEL_BINS,
    MEL_FRAMES_PER_S,
    MEL_LIMIT,
    MEL_WINDOW,
    MIN_LEVEL_DB,
    N_FFT,
    PREEMPHASIS,
    REF_LEVEL_DB,
    SAMPLE_RATE,
    WIN_LENGTH,
)
from workers.engines.base import EngineError
from workers.media.ffmpeg import ffmpeg_exe

DECODE_TIMEOUT_S = 600


def decode_audio(path: Path) -> np.ndarray:
    """Any audio file as 16 kHz mono float32 samples in [-1, 1], resampled by ffmpeg.

    Raises:
        EngineError: ffmpeg could not decode the file.
    """
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-300:]
        raise EngineError(f"ffmpeg could not decode the narration {path.name}: {message}")
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """The normalised log-mel spectrogram, (80, 1 + len(samples) // 200) float32 in [-4, 4].

    Args:
        samples: 16 kHz mono float samples.
    """
    emphasised = np.append(samples[:1], samples[1:] - PREEMPHASIS * samples[:-1])
    # Centred frames: reflect padding, as librosa's STFT did when Wav2Lip was trained.
    if len(samples) > N_FFT // 2:
        padded = np.pad(emphasised.astype(np.float64), N_FFT // 2, mode="reflect")
    else:
        padded = np.pad(emphasised.astype(np.float64), N_FFT // 2, mode="constant")
    n_frames = 1 + (len(padded) - N_FFT) // HOP_LENGTH
    frames = np.lib.stride_tricks.as_strided(
        padded,
        shape=(n_frames, N_FFT),
        strides=(padded.strides[0] * HOP_LENGTH, padded.strides[0]),
        writeable=False,
    )
    magnitude = np.abs(np.fft.rfft(frames * _window(), axis=1)).T  # (bins, frames)
    mel = _mel_basis() @ magnitude
    decibels = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    scaled = 2 * MEL_LIMIT * (decibels - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MEL_LIMIT
    normalised: np.ndarray = np.clip(scaled, -MEL_LIMIT, MEL_LIMIT).astype(np.float32)
    return normalised


def window_centre(index: int, fps: float) -> int:
    """The mel frame at the centre of video frame `index`'s window: round(80 · index / fps)."""
    return round(MEL_FRAMES_PER_S * index / fps)


def mel_windows(mel: np.ndarray, *, n_frames: int, fps: float) -> np.ndarray:
    """One window per video frame, (n_frames, 1, 80, 16) float32, silence past the ends."""
    half = MEL_WINDOW // 2
    padded = np.pad(mel, ((0, 0), (MEL_WINDOW, MEL_WINDOW)), constant_values=-MEL_LIMIT)
    windows = np.empty((n_frames, 1, MEL_BINS, MEL_WINDOW), dtype=np.float32)
    last_start = padded.shape[1] - MEL_WINDOW
    for index in range(n_frames):
        # In padded columns the window [c - 8, c + 8) starts at c - 8 + 16.
        start = min(window_centre(index, fps) - half + MEL_WINDOW, last_start)
        windows[index, 0] = padded[:, start : start + MEL_WINDOW]
    return windows


@cache
def _window() -> np.ndarray:
    # A periodic Hann window (the DFT-even form librosa and scipy use for STFTs).
    n = np.arange(WIN_LENGTH)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / WIN_LENGTH)).astype(np.float64)


@cache
def _mel_basis() -> np.ndarray:
    """(80, 401) Slaney-style mel filter bank with Slaney area normalisation."""
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_points = np.linspace(_hz_to_mel(FMIN_HZ), _hz_to_mel(FMAX_HZ), MEL_BINS + 2)
    edges_hz = np.array([_mel_to_hz(m) for m in mel_points])
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights


_F_SP = 200.0 / 3  # Slaney: linear below 1 kHz, 200/3 Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return float(_MIN_LOG_MEL + np.log(hz / _MIN_LOG_HZ) / _LOG_STEP)


def _mel_to_hz(mel: float) -> float:
    if mel < _MIN_LOG_MEL:
        return mel * _F_SP
    return float(_MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)))
