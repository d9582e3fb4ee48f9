"""Tests of the vits tts engine on tiny random VITS models saved and loaded from local folders."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.media import probe_duration_s  # noqa: E402
from tests.workers.neural.conftest import requires_gpu  # noqa: E402
from workers.captions.words import read_words  # noqa: E402
from workers.engines.base import PermanentEngineError  # noqa: E402
from workers.engines.neural.config import NeuralConfig  # noqa: E402
from workers.engines.vits import VitsEngine  # noqa: E402
from workers.stages.tts import TextToSpeech  # noqa: E402

ENGLISH = (
    "Good morning. The harbor bridge reopened on Tuesday, two weeks early! "
    "Crews replaced one thousand steel plates."
)
CHINESE = "早上好。今天大桥重新开放，比计划提前两周。"
SAMPLE_RATE = 8000  # not VitsConfig's default, to show the rate comes from the config


def build_voice(path: Path, chars: str, *, language: str | None, stochastic: bool) -> Path:
    """A tiny random VitsModel with a character VitsTokenizer (blank between characters)."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    vocab["<unk>"] = len(vocab)
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
    tokenizer = VitsTokenizer(
        str(path / "vocab.json"), language=language, add_blank=True, normalize=True,
        phonemize=False,
    )  # fmt: skip
    tokenizer.save_pretrained(path)
    config = VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        ffn_dim=32, flow_size=16, spectrogram_bins=9, upsample_initial_channel=16,
        upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1]], duration_predictor_filter_channels=16,
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1, depth_separable_num_layers=1,
        duration_predictor_num_flows=1, use_stochastic_duration_prediction=stochastic,
        sampling_rate=SAMPLE_RATE, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    VitsModel(config).save_pretrained(path)
    return path


def load(path: Path) -> VitsEngine:
    engine = VitsEngine(NeuralConfig(device="cpu"), model_dir=path)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def english_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    letters = " abcdefghijklmnopqrstuvwxyz'"
    return build_voice(tmp_path_factory.mktemp("eng"), letters, language="eng", stochastic=True)


@pytest.fixture(scope="module")
def english(english_dir: Path) -> VitsEngine:
    return load(english_dir)


@pytest.fixture(scope="module")
def chinese(tmp_path_factory: pytest.TempPathFactory) -> VitsEngine:
    chars = "".join(sorted(set(CHINESE) - set("。，")))
    return load(build_voice(tmp_path_factory.mktemp("cmn"), chars, language=None, stochastic=False))


def run_stage(
    engine: VitsEngine,
    workdir: Path,
    text: str,
    language: str,
    params: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    script = workdir / "script.json"
    script.write_text(json.dumps({"language": language, "text": text}), "utf-8")
    out = workdir / "out"
    out.mkdir()
    outputs = {
        o.name: o
        for o in TextToSpeech().run(
            item={}, inputs={"script": script}, params=params or {}, engine=engine, workdir=out
        )
    }
    return outputs["audio"].path, json.loads(outputs["timings"].path.read_text("utf-8"))


def assert_timeline(spans: list[dict[str, Any]], duration_s: float) -> None:
    previous_end = 0.0
    for span in spans:
        assert previous_end - 1e-9 <= span["start_s"] <= span["end_s"] <= duration_s + 1e-9
        previous_end = span["end_s"]


def test_the_stage_writes_a_wav_at_the_models_sample_rate_with_timings(english, tmp_path):
    audio, timings = run_stage(english, tmp_path, ENGLISH, "en")

    with wave.open(str(audio), "rb") as wav:
        assert wav.getframerate() == SAMPLE_RATE == timings["sample_rate"]
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        n_samples = wav.getnframes()
    assert timings["duration_s"] == pytest.approx(n_samples / SAMPLE_RATE)
    assert probe_duration_s(audio) == pytest.approx(timings["duration_s"], abs=0.02)
    assert timings["voice"] == english.model_id and timings["language"] == "en"
    assert timings["word_timing"] == "model-durations"


def test_word_timings_are_in_order_inside_the_audio_and_rebuild_the_text(english, tmp_path):
    _, timings = run_stage(english, tmp_path, ENGLISH, "en")
    words = timings["words"]

    assert " ".join(w["text"] for w in words) == ENGLISH
    for word in words:
        assert ENGLISH[word["char_start"] : word["char_end"]] == word["text"]
    assert_timeline(words, timings["duration_s"])
    assert all(w["end_s"] > w["start_s"] for w in words)  # every word has letters the voice reads
    assert [w.text for w in read_words(timings=timings, text=ENGLISH)] == ENGLISH.split()


def test_phonemes_are_the_spoken_characters_and_tile_the_audio(english, tmp_path):
    _, timings = run_stage(english, tmp_path, ENGLISH, "en")
    phonemes = timings["phonemes"]

    assert_timeline(phonemes, timings["duration_s"])
    assert phonemes[0]["start_s"] == 0 and phonemes[-1]["end_s"] == timings["duration_s"]
    spoken = "".join(p["phoneme"] for p in phonemes if p["phoneme"] != "_")
    assert spoken == "".join(c for c in ENGLISH.lower() if c.isalpha())


def test_the_durations_used_are_the_models_own_the_waveform_equals_vitsmodels(english_dir):
    from transformers import VitsModel, VitsTokenizer

    engine = load(english_dir)
    tokenizer = VitsTokenizer.from_pretrained(english_dir, local_files_only=True)
    model = VitsModel.from_pretrained(english_dir, local_files_only=True).eval()
    sentence = "The harbor bridge reopened on Tuesday."
    ids = tokenizer(sentence, return_tensors="pt")["input_ids"]

    torch.manual_seed(7)
    with torch.inference_mode():
        expected = model(input_ids=ids).waveform[0].numpy()
    samples, frames = engine._infer(ids, rate=1.0, speaker=None, seed=7)

    np.testing.assert_allclose(samples, expected, atol=1e-6)
    assert frames.sum() * 16 == len(expected)  # hop = 4 x 4 samples per frame


def test_the_same_seed_gives_the_same_audio_and_another_seed_other_audio(english):
    first = english.synthesize(text=ENGLISH, language="en", seed=3)
    again = english.synthesize(text=ENGLISH, language="en", seed=3)
    other = english.synthesize(text=ENGLISH, language="en", seed=4)

    assert first.pcm16() == again.pcm16()
    assert first.pcm16() != other.pcm16()


def test_a_faster_speaking_rate_gives_shorter_audio(english):
    normal = english.synthesize(text=ENGLISH, language="en", speaking_rate=1.0)
    fast = english.synthesize(text=ENGLISH, language="en", speaking_rate=2.0)

    assert fast.duration_s < normal.duration_s


def test_chinese_words_are_single_characters_timed_from_the_durations(chinese, tmp_path):
    _, timings = run_stage(chinese, tmp_path, CHINESE, "zh")
    words = timings["words"]

    assert [w["text"] for w in words][:3] == ["早", "上", "好。"]
    assert "".join(w["text"] for w in words) == CHINESE
    assert_timeline(words, timings["duration_s"])
    assert [w.text for w in read_words(timings=timings, text=CHINESE)] == [w["text"] for w in words]


def test_the_engine_reports_backend_precision_and_weights_digest(english):
    facts = english.runtime_info()

    assert facts["backend"] == "torch-cpu" and facts["precision"] == "fp32"
    assert english.model_digest is not None and len(english.model_digest) == 64


def test_a_script_in_another_language_than_the_voice_is_refused(english):
    with pytest.raises(PermanentEngineError, match="speaks 'eng'"):
        english.synthesize(text="Buenos días.", language="es")


def test_text_the_voice_cannot_read_at_all_is_refused(english):
    with pytest.raises(PermanentEngineError, match="cannot read any character"):
        english.synthesize(text="1234 — 5678.", language="en")


def test_espeak_params_are_refused_with_the_vits_engine(english, tmp_path):
    with pytest.raises(PermanentEngineError, match="espeak's; with vits use speaking_rate"):
        run_stage(english, tmp_path, ENGLISH, "en", params={"rate_wpm": 150})


def test_a_folder_without_a_vits_model_is_refused_at_load(tmp_path):
    with pytest.raises(PermanentEngineError, match="not a VitsModel folder"):
        load(tmp_path)


@pytest.mark.gpu
@requires_gpu
def test_on_cuda_the_decoder_runs_on_tensorrt_or_torch_and_the_timings_hold(english_dir, tmp_path):
    engine = VitsEngine(
        NeuralConfig(device="cuda", work_dir=tmp_path / "work"), model_dir=english_dir
    )
    engine.load()

    _, timings = run_stage(engine, tmp_path, ENGLISH, "en")

    assert engine.runtime_info()["backend"] in ("tensorrt", "torch-cuda"), engine.runtime_info()
    assert " ".join(w["text"] for w in timings["words"]) == ENGLISH
    assert_timeline(timings["words"], timings["duration_s"])
