"""Tests of the wav2lip anchor engine: the tensor contract, mel alignment, paste-back, renders.

The network is a tiny reference implementation of the contract written here and saved with
torch.export; the Wav2Lip generator architecture is checked through its state dict only
(a forward pass of the 36M-parameter network is too slow for the CPU suite).
"""

from __future__ import annotations

import json
import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch")

from tests.media import ffprobe  # noqa: E402
from tests.workers.neural.conftest import requires_gpu  # noqa: E402
from workers.anchor.face_crop import FaceBox, crop_faces, mouth_mask, paste_mouths  # noqa: E402
from workers.anchor.lipsync_contract import (  # noqa: E402
    MEL_BINS,
    MEL_LIMIT,
    SAMPLE_RATE,
    face_shape,
    frame_shape,
    mel_shape,
)
from workers.anchor.mel import mel_spectrogram, mel_windows, window_centre  # noqa: E402
from workers.engines.base import PermanentEngineError  # noqa: E402
from workers.engines.lipsync import LipSyncEngine  # noqa: E402
from workers.engines.neural.config import NeuralConfig  # noqa: E402
from workers.engines.wav2lip_net import Wav2LipNet, load_network  # noqa: E402
from workers.media.ffmpeg import ffmpeg_exe  # noqa: E402
from workers.stages.anchor import AnimateAnchor  # noqa: E402

FPS = 25


class TinyLipSync(torch.nn.Module):
    """A reference network for the contract: the face, tinted by how loud the window is."""

    def __init__(self) -> None:
        super().__init__()
        self.face = torch.nn.Conv2d(6, 3, 3, padding=1)
        self.audio = torch.nn.Linear(1, 3)
        with torch.no_grad():  # the loudest mel of the window brightens the face, plainly
            self.audio.weight.fill_(1.0)
            self.audio.bias.zero_()

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        loudness = self.audio(mels.amax(dim=(2, 3)).flatten(1))[:, :, None, None]
        return torch.sigmoid(self.face(faces) + loudness)


class WrongSize(torch.nn.Module):
    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        return faces[:, :3, :64, :64]


def export(module: torch.nn.Module, path: Path) -> Path:
    batch = torch.export.Dim("batch", min=1, max=64)
    example = (torch.zeros(mel_shape(2)), torch.zeros(face_shape(2)))
    program = torch.export.export(module.eval(), example, dynamic_shapes=({0: batch}, {0: batch}))
    torch.export.save(program, str(path))
    return path


def load(path: Path, **config: object) -> LipSyncEngine:
    engine = LipSyncEngine(NeuralConfig(device="cpu", **config), weights_path=path)  # type: ignore[arg-type]
    engine.load()
    return engine


@pytest.fixture(scope="module")
def network_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export(TinyLipSync(), tmp_path_factory.mktemp("net") / "tiny.pt2")


@pytest.fixture(scope="module")
def engine(network_path: Path) -> LipSyncEngine:
    loaded = load(network_path, batch_max_size=8, batch_max_wait_ms=1.0)
    yield loaded
    loaded.close()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def narration(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One second at 22.05 kHz (resampled to 16 kHz by the engine): tone, silence, tone."""
    folder = tmp_path_factory.mktemp("narration")
    rate = 22050
    t = np.arange(rate) / rate
    gate = ((t < 0.4) | (t > 0.7)).astype(np.float64)
    audio = write_wav(folder / "narration.wav", 0.4 * np.sin(2 * math.pi * 220 * t) * gate, rate)
    phonemes = [
        {"phoneme": "a", "start_s": 0.0, "end_s": 0.4},
        {"phoneme": "_", "start_s": 0.4, "end_s": 0.7},
        {"phoneme": "o", "start_s": 0.7, "end_s": 1.0},
    ]
    timings = folder / "timings.json"
    timings.write_text(json.dumps({"language": "en", "phonemes": phonemes}), "utf-8")
    return {"audio": audio, "timings": timings}


def test_the_reference_network_meets_the_contract_shapes_at_any_batch(engine):
    for batch in (1, 3, 11):
        mels = np.zeros(mel_shape(batch), np.float32)
        faces = np.random.default_rng(0).random(face_shape(batch), dtype=np.float32)

        frames = engine.infer(mels, faces)

        assert frames.shape == frame_shape(batch) and frames.dtype == np.float32
        assert frames.min() >= 0.0 and frames.max() <= 1.0


def test_batched_results_go_back_to_their_own_frames_in_order(engine, network_path):
    rng = np.random.default_rng(1)
    mels = (rng.random(mel_shape(13), dtype=np.float32) * 8 - 4).astype(np.float32)
    faces = rng.random(face_shape(13), dtype=np.float32)
    reference = load_network(network_path)

    frames = engine.infer(mels, faces)

    with torch.inference_mode():
        expected = reference(torch.from_numpy(mels), torch.from_numpy(faces)).numpy()
    np.testing.assert_allclose(frames, expected, atol=1e-5)


def test_face_crops_mask_the_lower_half_and_keep_a_reference_in_bgr():
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[..., 0] = 255  # pure red in RGB
    [face] = crop_faces([frame], [FaceBox(50, 40, 120)])

    assert face.shape == face_shape(1)[1:]
    assert np.all(face[5] == 1.0) and np.all(face[3:5] == 0.0)  # reference: red is channel 2
    assert np.all(face[2, :48] == 1.0) and np.all(face[:3, 48:] == 0.0)


def test_each_video_frame_uses_the_mel_window_centred_on_its_time():
    # Given a 20 ms click at 0.52 s in silence, which is video frame 13 at 25 fps
    samples = np.zeros(SAMPLE_RATE, np.float32)
    click = round(0.52 * SAMPLE_RATE)
    samples[click - 160 : click + 160] = 0.8 * np.sin(np.arange(320) * 0.9)
    mel = mel_spectrogram(samples)

    # When the windows are cut for 25 video frames
    windows = mel_windows(mel, n_frames=FPS, fps=FPS)

    # Then frame 13's window has the click in its middle, and its neighbours off-centre
    loud_column = {i: int(windows[i, 0].mean(axis=0).argmax()) for i in (12, 13, 14)}
    assert loud_column[13] in (7, 8)
    assert loud_column[12] > 8 > loud_column[14]
    assert mel.shape == (MEL_BINS, 1 + SAMPLE_RATE // 200)
    assert window_centre(13, FPS) == 42  # 80 mel frames per second x 13 / 25 = 41.6
    np.testing.assert_array_equal(windows[13, 0], mel[:, 34:50])


def test_windows_past_the_ends_of_the_audio_are_silence():
    mel = mel_spectrogram(np.full(SAMPLE_RATE // 5, 0.3, np.float32))

    windows = mel_windows(mel, n_frames=8, fps=FPS)

    assert np.all(windows[0, 0, :, :8] == -MEL_LIMIT)
    assert np.all(windows[-1, 0, :, -4:] == -MEL_LIMIT)


def test_pasting_back_changes_only_the_mouth_region():
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    before = frame.copy()
    box = FaceBox(100, 60, 150)

    paste_mouths([frame], [box], np.ones(frame_shape(1), np.float32))

    changed = np.any(frame != before, axis=2)
    alpha, (y0, y1, x0, x1) = mouth_mask(box.size)
    region = np.zeros(changed.shape, bool)
    region[box.y + y0 : box.y + y1, box.x + x0 : box.x + x1] = alpha[..., 0] > 0
    assert changed.any()
    assert not np.any(changed & ~region)
    assert y0 >= box.size // 2  # nothing above the middle of the face box


def test_an_anchor_video_renders_with_generated_mouths_and_probes_right(
    engine, narration, tmp_path
):
    [video] = AnimateAnchor().run(
        item={"custom_id": "lipsync-1", "headline": "Harbor bridge reopens", "language": "en"},
        inputs=narration,
        params={"width": 320, "height": 320, "preset": "ultrafast"},
        engine=engine,
        workdir=tmp_path,
    )

    [stream] = ffprobe(video.path)["streams"]
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (320, 320)
    assert int(stream["nb_frames"]) == FPS
    assert float(stream["duration"]) == pytest.approx(1.0, abs=0.05)
    assert video.duration_s == pytest.approx(1.0)


def decode_gray(path: Path) -> np.ndarray:
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
        "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 320, 320).astype(np.int16)


def test_photo_mode_moves_only_the_portraits_mouth_and_with_the_audio(engine, narration, tmp_path):
    portrait = tmp_path / "portrait.png"
    image = Image.new("RGB", (600, 800), (70, 90, 120))
    draw = ImageDraw.Draw(image)
    draw.ellipse((160, 160, 440, 560), fill=(214, 166, 134))
    draw.ellipse((260, 450, 340, 476), fill=(170, 80, 80))
    image.save(portrait)
    params = {
        "width": 320, "height": 320, "mode": "photo", "preset": "ultrafast",
        "mouth_box": [250, 440, 100, 36], "eye_boxes": [[205, 300, 60, 30], [335, 300, 60, 30]],
    }  # fmt: skip

    [video] = AnimateAnchor().run(
        item={"custom_id": "lipsync-2", "headline": "Portrait", "language": "en"},
        inputs={**narration, "portrait": portrait},
        params=params,
        engine=engine,
        workdir=tmp_path,
    )

    # Then the frames in the tone (0.2 s) and in the pause (0.52 s) differ around the mouth only
    [stream] = ffprobe(video.path)["streams"]
    assert int(stream["nb_frames"]) == FPS
    frames = decode_gray(video.path)
    difference = np.abs(frames[5] - frames[13])
    assert difference.max() > 20
    rows = np.nonzero(difference.max(axis=1) > 8)[0]
    assert rows.min() > 320 * 0.45 and rows.max() - rows.min() < 320 * 0.3


def test_the_engine_reports_backend_precision_and_the_weights_digest(engine):
    facts = engine.runtime_info()

    assert facts["backend"] == "torch-cpu" and facts["precision"] == "fp32"
    assert engine.model_digest is not None and len(engine.model_digest) == 64
    assert engine.model_id == "tiny.pt2"


def test_a_network_that_breaks_the_contract_is_refused_at_load(tmp_path):
    path = export(WrongSize(), tmp_path / "wrong.pt2")

    with pytest.raises(PermanentEngineError, match=r"returned shape \(2, 3, 64, 64\)"):
        load(path)


def test_missing_weights_name_the_setting(tmp_path):
    with pytest.raises(PermanentEngineError, match="MEDIAQ_LIPSYNC_WEIGHTS"):
        load(tmp_path / "absent.pth")


def test_a_wav2lip_checkpoint_state_dict_loads_into_the_generator(tmp_path):
    torch.manual_seed(3)
    original = Wav2LipNet()
    checkpoint = {"state_dict": {f"module.{k}": v for k, v in original.state_dict().items()}}
    torch.save(checkpoint, tmp_path / "wav2lip.pth")

    loaded = load_network(tmp_path / "wav2lip.pth")

    assert isinstance(loaded, Wav2LipNet) and not loaded.training
    state = loaded.state_dict()
    for key in ("face_encoder_blocks.0.0.conv_block.0.weight", "output_block.1.weight"):
        assert torch.equal(state[key], original.state_dict()[key])
    assert sum(p.numel() for p in loaded.parameters()) == 36_298_035


def test_a_state_dict_of_another_network_is_refused_naming_the_keys(tmp_path):
    torch.save(TinyLipSync().state_dict(), tmp_path / "other.pth")

    with pytest.raises(PermanentEngineError, match="not a Wav2Lip generator state dict"):
        load_network(tmp_path / "other.pth")


@pytest.mark.gpu
@requires_gpu
def test_on_cuda_the_wav2lip_generator_agrees_with_torch_fp32_on_the_cpu(tmp_path):
    torch.manual_seed(4)
    reference = Wav2LipNet().eval()
    torch.save(reference.state_dict(), tmp_path / "wav2lip.pth")
    engine = load_gpu(tmp_path / "wav2lip.pth", tmp_path)
    rng = np.random.default_rng(5)
    mels = (rng.random(mel_shape(3), dtype=np.float32) * 8 - 4).astype(np.float32)
    faces = rng.random(face_shape(3), dtype=np.float32)

    frames = engine.infer(mels, faces)

    with torch.inference_mode():
        expected = reference(torch.from_numpy(mels), torch.from_numpy(faces)).numpy()
    assert engine.runtime_info()["backend"] in ("tensorrt", "torch-cuda"), engine.runtime_info()
    np.testing.assert_allclose(frames, expected, atol=2e-2)
    engine.close()


def load_gpu(path: Path, tmp_path: Path) -> LipSyncEngine:
    config = NeuralConfig(device="cuda", work_dir=tmp_path / "work", batch_max_size=8)
    engine = LipSyncEngine(config, weights_path=path)
    engine.load()
    return engine
