"""Tiny RRDBNet models with random weights and the real architecture, saved as users save theirs.

Also registers the `gpu` marker for these tests and skips GPU tests unless RUN_GPU=1 and torch
sees a CUDA device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Small enough that every test runs in a fraction of a second, deep enough to have every layer
# of the real network (one RRDB = three dense blocks of five convolutions).
TINY_ARCH = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
# Receptive radius of the tiny x4 network is about 18 input pixels (17 convolutions at input
# resolution, four more after upsampling); at x2 pixel-unshuffle doubles it. Pads at least this
# large make tiled inference equal untiled inference.
EXACT_PAD_PX = {4: 20, 2: 40}


def has_gpu() -> bool:
    if os.environ.get("RUN_GPU") != "1":
        return False
    import torch

    return bool(torch.cuda.is_available())


requires_gpu = pytest.mark.skipif(not has_gpu(), reason="needs RUN_GPU=1 and a CUDA device")


@dataclass(frozen=True)
class TinyWeights:
    """A saved tiny model: where it is, how it was saved, and the module it came from."""

    path: Path
    scale: int
    module: Any  # an RRDBNet; Any keeps torch out of this module's imports


def save_tiny_rrdb(
    folder: Path, *, scale: int, seed: int = 0, fmt: str = "safetensors"
) -> TinyWeights:
    """Build a seeded tiny RRDBNet and save it as .safetensors or as a BasicSR-style .pth."""
    import torch
    from safetensors.torch import save_file

    from workers.engines.neural.rrdb import RRDBArch, RRDBNet

    torch.manual_seed(seed)
    module = RRDBNet(RRDBArch(scale=scale, **TINY_ARCH)).eval()
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        path = folder / f"tiny-x{scale}-{seed}.safetensors"
        save_file(module.state_dict(), str(path))
    else:
        path = folder / f"tiny-x{scale}-{seed}.pth"
        # Real-ESRGAN's release files wrap the EMA weights like this.
        torch.save({"params_ema": module.state_dict()}, path)
    return TinyWeights(path=path, scale=scale, module=module)


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session")
def tiny_x4(weights_dir: Path) -> TinyWeights:
    return save_tiny_rrdb(weights_dir, scale=4)


@pytest.fixture(scope="session")
def tiny_x2(weights_dir: Path) -> TinyWeights:
    return save_tiny_rrdb(weights_dir, scale=2, fmt="pth")
