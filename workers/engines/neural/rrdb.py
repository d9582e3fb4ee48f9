"""RRDBNet, the ESRGAN/Real-ESRGAN generator, in the state-dict layout their checkpoints use.

Layout (BasicSR's, which Real-ESRGAN's released weights follow):

    conv_first                      3x3, in -> num_feat (in = 3 at x4, 12 at x2, 48 at x1)
    body.N.rdbK.convM   N < num_block, K in 1..3, M in 1..5: residual dense blocks
    conv_body                       3x3 after the trunk, added back to conv_first's output
    conv_up1, conv_up2              3x3 after each nearest-neighbour x2 upsampling
    conv_hr, conv_last              3x3, then num_feat -> 3

The network always upsamples x4; for x2 (and x1) it first folds each 2x2 (4x4) block of pixels
into channels with pixel-unshuffle, as Real-ESRGAN does, so inputs must have even sides at x2.
The architecture is read from the weights' shapes, so any width and depth loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - the universal spelling
from torch import nn

from workers.engines.base import PermanentEngineError

_RESIDUAL_SCALE = 0.2  # both residual branches are damped, as in the paper
_INIT_SCALE = 0.1  # BasicSR scales the dense blocks' initial weights down for stability


@dataclass(frozen=True)
class RRDBArch:
    """The shape of an RRDBNet.

    Attributes:
        scale: output size / input size: 4, 2 or 1.
        num_feat: trunk channels (64 in the released models).
        num_block: residual-in-residual dense blocks (23 in the released x4 model).
        num_grow_ch: channels each dense layer adds (32 in the released models).
        num_in_ch: image channels in (3).
        num_out_ch: image channels out (3).
    """

    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    num_in_ch: int = 3
    num_out_ch: int = 3

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> RRDBArch:
        """Read the architecture from checkpoint shapes.

        Raises:
            PermanentEngineError: the keys are not an RRDBNet's.
        """
        for key in ("conv_first.weight", "conv_last.weight", "body.0.rdb1.conv1.weight"):
            if key not in state:
                raise PermanentEngineError(
                    f"weights are not an ESRGAN RRDBNet state dict: no {key!r} "
                    "(expected conv_first, body.N.rdbK.convM, conv_body, conv_up1/2, conv_hr, "
                    "conv_last)"
                )
        first_out, first_in = state["conv_first.weight"].shape[:2]
        num_out_ch = int(state["conv_last.weight"].shape[0])
        folds = {num_out_ch: 4, num_out_ch * 4: 2, num_out_ch * 16: 1}
        if first_in not in folds:
            raise PermanentEngineError(
                f"conv_first takes {first_in} channels: not 1x, 4x or 16x the {num_out_ch} "
                "output channels, so the scale is unknown"
            )
        blocks = {int(key.split(".")[1]) for key in state if key.startswith("body.")}
        return cls(
            scale=folds[int(first_in)],
            num_feat=int(first_out),
            num_block=len(blocks),
            num_grow_ch=int(state["body.0.rdb1.conv1.weight"].shape[0]),
            num_in_ch=num_out_ch,
            num_out_ch=num_out_ch,
        )


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing all earlier outputs; a damped residual around them."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(_INIT_SCALE)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        out: torch.Tensor = x5 * _RESIDUAL_SCALE + x
        return out


class RRDB(nn.Module):
    """Three dense blocks in a row, with a damped residual around them."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.rdb3(self.rdb2(self.rdb1(x))) * _RESIDUAL_SCALE + x
        return out


class RRDBNet(nn.Module):
    """The generator: (N, 3, H, W) in [0, 1] -> (N, 3, H*scale, W*scale), roughly [0, 1]."""

    def __init__(self, arch: RRDBArch) -> None:
        super().__init__()
        if arch.scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet scale must be 1, 2 or 4, got {arch.scale}")
        self.arch = arch
        unshuffled_ch = arch.num_in_ch * (4 // arch.scale) ** 2
        self.conv_first = nn.Conv2d(unshuffled_ch, arch.num_feat, 3, 1, 1)
        self.body = nn.Sequential(
            *(RRDB(arch.num_feat, arch.num_grow_ch) for _ in range(arch.num_block))
        )
        self.conv_body = nn.Conv2d(arch.num_feat, arch.num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(arch.num_feat, arch.num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(arch.num_feat, arch.num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(arch.num_feat, arch.num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(arch.num_feat, arch.num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    @property
    def input_multiple(self) -> int:
        """Input height and width must be multiples of this (pixel-unshuffle's block)."""
        return 4 // self.arch.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = F.pixel_unshuffle(x, self.input_multiple) if self.input_multiple > 1 else x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        out: torch.Tensor = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out


def build_rrdbnet(state: Mapping[str, torch.Tensor]) -> RRDBNet:
    """An RRDBNet in eval mode with `state` loaded strictly (every key must match).

    Raises:
        PermanentEngineError: not an RRDBNet state dict, or keys/shapes that do not fit.
    """
    model = RRDBNet(RRDBArch.from_state_dict(state))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_lines = "; ".join(str(error).splitlines()[:3])
        raise PermanentEngineError(
            f"weights do not fit RRDBNet {model.arch}: {first_lines}"
        ) from error
    return model.eval()
