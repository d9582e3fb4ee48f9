"""Local weights: clear refusals for missing files, digests, no hub access."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.engines.base import PermanentEngineError
from workers.engines.neural.config import NeuralConfig, neural_config_from_settings
from workers.engines.neural.weights import (
    digest_path,
    load_state_dict,
    pretrained_kwargs,
    require_local_path,
)


def test_missing_weights_are_a_permanent_error_naming_the_path(tmp_path: Path) -> None:
    config = NeuralConfig(models_dir=tmp_path)
    with pytest.raises(PermanentEngineError) as caught:
        require_local_path(config=config, path="esrgan/x4.pth", setting="MEDIAQ_UPSCALE_WEIGHTS_X4")
    assert str(tmp_path / "esrgan" / "x4.pth") in str(caught.value)
    assert "MEDIAQ_UPSCALE_WEIGHTS_X4" in str(caught.value)


def test_unconfigured_weights_name_the_setting() -> None:
    with pytest.raises(PermanentEngineError, match="set MEDIAQ_X to a local file"):
        require_local_path(config=NeuralConfig(), path=None, setting="MEDIAQ_X")


def test_absolute_paths_ignore_models_dir(tmp_path: Path) -> None:
    file = tmp_path / "w.safetensors"
    file.write_bytes(b"x")
    config = NeuralConfig(models_dir=Path("/nonexistent"))
    assert require_local_path(config=config, path=file, setting="S") == file


def test_unknown_weights_format_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "weights.onnx"
    file.write_bytes(b"not torch")
    with pytest.raises(PermanentEngineError, match="unknown weights format"):
        load_state_dict(file)


def test_corrupt_weights_are_a_permanent_error(tmp_path: Path) -> None:
    file = tmp_path / "weights.safetensors"
    file.write_bytes(b"\x00" * 20)
    with pytest.raises(PermanentEngineError, match="cannot read weights"):
        load_state_dict(file)


def test_folder_digest_changes_when_any_file_changes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub" / "model.safetensors").write_bytes(b"abc")
    before = digest_path(tmp_path)
    assert digest_path(tmp_path) == before
    (tmp_path / "sub" / "model.safetensors").write_bytes(b"abd")
    assert digest_path(tmp_path) != before


def test_transformers_loading_is_local_only() -> None:
    assert pretrained_kwargs() == {"local_files_only": True}


def test_config_reads_settings_and_keeps_defaults_for_missing_fields(tmp_path: Path) -> None:
    class FakeSettings:
        data_dir = tmp_path
        neural_device = "cpu"
        batch_max_size = 4

        def resolved_storage_url(self) -> str:
            return "file:///srv/objects"

    config = neural_config_from_settings(FakeSettings())
    assert config.device == "cpu"
    assert config.batch_max_size == 4
    assert config.batch_max_wait_ms == NeuralConfig().batch_max_wait_ms
    assert config.trt_cache_url == "file:///srv/objects"
    assert config.work_dir == tmp_path / "neural"


def test_config_refuses_unknown_values() -> None:
    with pytest.raises(ValueError, match="device must be one of"):
        NeuralConfig(device="tpu")
