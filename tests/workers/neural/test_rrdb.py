"""RRDBNet: the ESRGAN state-dict layout loads strictly, the architecture is read from shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.workers.neural.conftest import TINY_ARCH, TinyWeights, save_tiny_rrdb
from workers.engines.base import PermanentEngineError
from workers.engines.neural.rrdb import RRDBArch, build_rrdbnet
from workers.engines.neural.weights import load_state_dict

ESRGAN_KEYS = {
    "conv_first.weight",
    "body.0.rdb1.conv1.weight",
    "body.0.rdb3.conv5.bias",
    "conv_body.weight",
    "conv_up1.weight",
    "conv_up2.weight",
    "conv_hr.weight",
    "conv_last.bias",
}


@pytest.mark.parametrize("fixture", ["tiny_x4", "tiny_x2"])
def test_saved_weights_load_strictly_into_the_esrgan_layout(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    tiny: TinyWeights = request.getfixturevalue(fixture)
    loaded = load_state_dict(tiny.path)
    assert set(loaded.state_dict) >= ESRGAN_KEYS
    model = build_rrdbnet(loaded.state_dict)
    assert model.arch == RRDBArch(scale=tiny.scale, **TINY_ARCH)
    image = torch.rand(2, 3, 12, 16)
    with torch.inference_mode():
        output = model(image)
        expected = tiny.module(image)
    assert output.shape == (2, 3, 12 * tiny.scale, 16 * tiny.scale)
    assert torch.equal(output, expected)


def test_x2_network_folds_pixels_into_channels_like_real_esrgan(tiny_x2: TinyWeights) -> None:
    state = load_state_dict(tiny_x2.path).state_dict
    assert state["conv_first.weight"].shape[1] == 12  # 3 channels x 2x2 pixels


def test_released_model_sizes_are_read_from_the_shapes() -> None:
    full = build_rrdbnet(_state_of(RRDBArch(scale=4, num_feat=16, num_block=3, num_grow_ch=8))).arch
    assert (full.num_feat, full.num_block, full.num_grow_ch, full.scale) == (16, 3, 8, 4)


def test_weights_missing_a_layer_are_refused_naming_it(tiny_x4: TinyWeights) -> None:
    state = dict(load_state_dict(tiny_x4.path).state_dict)
    del state["conv_hr.weight"]
    with pytest.raises(PermanentEngineError, match="conv_hr.weight"):
        build_rrdbnet(state)


def test_weights_of_another_network_are_refused() -> None:
    state = torch.nn.Conv2d(3, 3, 3).state_dict()
    with pytest.raises(PermanentEngineError, match="not an ESRGAN RRDBNet"):
        build_rrdbnet(state)


def test_checkpoint_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(PermanentEngineError, match="not a state dict"):
        load_state_dict(path)


def test_pth_and_safetensors_of_the_same_weights_give_the_same_network(tmp_path: Path) -> None:
    a = save_tiny_rrdb(tmp_path, scale=4, seed=3, fmt="safetensors")
    b = save_tiny_rrdb(tmp_path, scale=4, seed=3, fmt="pth")
    state_a = load_state_dict(a.path).state_dict
    state_b = load_state_dict(b.path).state_dict
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def _state_of(arch: RRDBArch) -> dict[str, torch.Tensor]:
    from workers.engines.neural.rrdb import RRDBNet

    return RRDBNet(arch).state_dict()
