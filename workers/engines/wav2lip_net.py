"""Lip-sync networks: the Wav2Lip generator (for its standard checkpoints) or an exported program.

Two ways to supply the network (MEDIAQ_LIPSYNC_WEIGHTS):
- a state dict of `Wav2LipNet` (.pth/.pt/.ckpt/.safetensors): the published Wav2Lip generator
  architecture, so the usual `wav2lip.pth` / `wav2lip_gan.pth` checkpoints load as they are
  (their "state_dict" wrapper and DataParallel "module." prefixes are removed);
- any network implementing the contract (workers.anchor.lipsync_contract), saved with
  torch.export.save (.pt2), batch dimension dynamic.

TorchScript files are not accepted: torch deprecates TorchScript; re-export with torch.export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from workers.engines.base import PermanentEngineError
from workers.engines.neural.weights import SAFETENSORS_SUFFIXES, TORCH_SUFFIXES, load_state_dict

EXPORTED_SUFFIXES = (".pt2",)


class ConvBlock(nn.Module):
    """Conv (or transposed conv) + batch norm + ReLU, optionally residual: Wav2Lip's unit."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int | tuple[int, int],
        padding: int,
        *,
        residual: bool = False,
        transpose: bool = False,
    ) -> None:
        super().__init__()
        conv: nn.Module
        if transpose:
            # Upsampling steps double the size exactly: 3 -> 6 -> ... -> 96.
            extra = stride - 1 if isinstance(stride, int) else 0
            conv = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding=extra)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.conv_block = nn.Sequential(conv, nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        activated: torch.Tensor = self.act(out + x if self.residual else out)
        return activated


def _stage(
    cin: int, cout: int, kernel: int, stride: Any, padding: int, repeats: int
) -> list[nn.Module]:
    """One down- or same-scale step followed by `repeats` residual 3x3 blocks."""
    layers: list[nn.Module] = [ConvBlock(cin, cout, kernel, stride, padding)]
    layers += [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
    return layers


def _up(cin: int, cout: int, stride: int, padding: int, repeats: int) -> nn.Sequential:
    layers: list[nn.Module] = [ConvBlock(cin, cout, 3, stride, padding, transpose=True)]
    layers += [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
    return nn.Sequential(*layers)


class Wav2LipNet(nn.Module):
    """The Wav2Lip generator (Prajwal et al., 2020), 96 x 96 faces; parameter names match.

    forward(mels (B, 1, 80, 16), faces (B, 6, 96, 96)) -> (B, 3, 96, 96) in [0, 1].
    Skip connections: each decoder step is concatenated with the encoder output of the
    same scale, from the 1x1 bottleneck up to 96 x 96.
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            nn.Sequential(*layers)
            for layers in (
                _stage(6, 16, 7, 1, 3, 0),  # 96
                _stage(16, 32, 3, 2, 1, 2),  # 48
                _stage(32, 64, 3, 2, 1, 3),  # 24
                _stage(64, 128, 3, 2, 1, 2),  # 12
                _stage(128, 256, 3, 2, 1, 2),  # 6
                _stage(256, 512, 3, 2, 1, 1),  # 3
                [ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)],  # 1
            )
        )
        self.audio_encoder = nn.Sequential(
            *_stage(1, 32, 3, 1, 1, 2),
            *_stage(32, 64, 3, (3, 1), 1, 2),
            *_stage(64, 128, 3, 3, 1, 2),
            *_stage(128, 256, 3, (3, 2), 1, 1),
            ConvBlock(256, 512, 3, 1, 0),
            ConvBlock(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(512, 512, 1, 1, 0)),  # 1
                _up(1024, 512, 1, 0, 1),  # 3
                _up(1024, 512, 2, 1, 2),  # 6
                _up(768, 384, 2, 1, 2),  # 12
                _up(512, 256, 2, 1, 2),  # 24
                _up(320, 128, 2, 1, 2),  # 48
                _up(160, 64, 2, 1, 2),  # 96
            ]
        )
        self.output_block = nn.Sequential(
            ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid()
        )

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        features = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            features.append(x)
        x = self.audio_encoder(mels)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), features.pop()), dim=1)
        out: torch.Tensor = self.output_block(x)
        return out


class ExportedNetwork(nn.Module):
    """A torch.export program as a module; its train/eval mode was fixed when it was exported."""

    def __init__(self, program: Any) -> None:
        super().__init__()
        self.program = program.module()

    def train(self, mode: bool = True) -> ExportedNetwork:
        # The exported graph refuses train()/eval(); it already runs in inference mode.
        return self

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.program(mels, faces)
        return out


def load_network(path: Path) -> nn.Module:
    """The lip-sync network in `path`, on the CPU in eval mode.

    Raises:
        PermanentEngineError: an unknown format, an unreadable file, or a state dict that is
            not Wav2Lip's (the message names missing and unexpected keys).
    """
    suffix = path.suffix.lower()
    if suffix in EXPORTED_SUFFIXES:
        try:
            return ExportedNetwork(torch.export.load(str(path))).eval()
        except Exception as error:
            raise PermanentEngineError(
                f"cannot load the exported program {path}: {error}"
            ) from error
    if suffix not in (*TORCH_SUFFIXES, *SAFETENSORS_SUFFIXES):
        raise PermanentEngineError(
            f"unknown lip-sync network format {path.name!r}: use a Wav2Lip state dict "
            f"({', '.join((*TORCH_SUFFIXES, *SAFETENSORS_SUFFIXES))}) or a torch.export "
            "program (.pt2)"
        )
    state = {_strip(key): value for key, value in load_state_dict(path).state_dict.items()}
    network = Wav2LipNet()
    missing, unexpected = _key_mismatch(network, state)
    if missing or unexpected:
        raise PermanentEngineError(
            f"{path.name} is not a Wav2Lip generator state dict: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})"
        )
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise PermanentEngineError(f"{path.name} does not fit Wav2Lip's shapes: {error}") from error
    return network.eval()


def _strip(key: str) -> str:
    return key.removeprefix("module.")


def _key_mismatch(network: nn.Module, state: dict[str, Any]) -> tuple[list[str], list[str]]:
    expected = set(network.state_dict())
    return sorted(expected - set(state)), sorted(set(state) - expected)
