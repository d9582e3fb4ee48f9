"""The tensor contract between mediaq and a lip-sync network: Wav2Lip's interface, written down.

mediaq owns everything around the network: the narration's mel spectrogram and its windows,
the face crops, batching, and pasting the generated mouths back into the frames. The network
is the user's (workers.engines.lipsync loads it) and must implement exactly this:

    frames = network(mels, faces)        all float32, batch first, any batch size B >= 1

    mels    B x 1 x 80 x 16   one window of the log-mel spectrogram per video frame,
                              80 mel bins x 16 mel frames (0.2 s), values in [-4, 4]
                              (-4 is silence)
    faces   B x 6 x 96 x 96   channels 0-2: the face crop with its lower half (rows 48-95)
                              set to 0, the region to generate; channels 3-5: the same crop
                              unmasked, the reference for identity and pose. BGR channel
                              order (Wav2Lip was trained on OpenCV images), values in [0, 1]
    frames  B x 3 x 96 x 96   the face crop with a generated mouth, BGR, values in [0, 1]

Mel spectrogram (Wav2Lip's audio.py settings): audio resampled to 16 kHz mono, pre-emphasis
0.97, STFT with n_fft 800, window 800 (Hann), hop 200 (80 mel frames per second), centred
frames (reflect padding); magnitude, 80 Slaney mel bands from 55 to 7600 Hz; 20·log10 with a
1e-5 floor minus 20 dB; then mapped from [-100, 0] dB to [-4, 4] and clipped.

Alignment: at fps video frames per second, frame i is centred at i / fps seconds and uses the
16 mel frames [c - 8, c + 8) with c = round(80 · i / fps); mel frame m is centred at m / 80 s.
At 25 fps a frame advances 3.2 mel frames and its window spans 0.2 s. Windows that reach past
either end of the audio are filled with -4 (silence). Wav2Lip's training windows are also
centred on their frame, within half a frame.
"""

from __future__ import annotations

import numpy as np

FACE_SIZE = 96
FACE_CHANNELS = 6
FRAME_CHANNELS = 3
MEL_BINS = 80
MEL_WINDOW = 16
SAMPLE_RATE = 16_000
N_FFT = 800
WIN_LENGTH = 800
HOP_LENGTH = 200
FMIN_HZ = 55.0
FMAX_HZ = 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MEL_LIMIT = 4.0  # mels are in [-MEL_LIMIT, MEL_LIMIT]
MEL_FRAMES_PER_S = SAMPLE_RATE / HOP_LENGTH  # 80
# Output values may overshoot [0, 1] by this much (reduced precision) and still be accepted.
VALUE_SLACK = 1e-2


class ContractError(ValueError):
    """A network's output does not have the contract's shape, type or value range."""


def mel_shape(batch: int) -> tuple[int, int, int, int]:
    return (batch, 1, MEL_BINS, MEL_WINDOW)


def face_shape(batch: int) -> tuple[int, int, int, int]:
    return (batch, FACE_CHANNELS, FACE_SIZE, FACE_SIZE)


def frame_shape(batch: int) -> tuple[int, int, int, int]:
    return (batch, FRAME_CHANNELS, FACE_SIZE, FACE_SIZE)


def check_frames(frames: np.ndarray, *, batch: int) -> None:
    """Check a network's output against the contract.

    Raises:
        ContractError: wrong shape, non-finite values, or values outside [0, 1].
    """
    if frames.shape != frame_shape(batch):
        raise ContractError(
            f"the lip-sync network returned shape {tuple(frames.shape)} for a batch of {batch};"
            f" the contract is {frame_shape(batch)} (B x 3 x 96 x 96, BGR in [0, 1])"
        )
    if not np.all(np.isfinite(frames)):
        raise ContractError("the lip-sync network returned NaN or infinite values")
    low, high = float(frames.min()), float(frames.max())
    if low < -VALUE_SLACK or high > 1 + VALUE_SLACK:
        raise ContractError(
            f"the lip-sync network returned values in [{low:.3g}, {high:.3g}]; the contract is"
            " [0, 1] (end the network with a sigmoid)"
        )
