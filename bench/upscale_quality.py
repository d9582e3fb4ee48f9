"""Upscale quality: the default engine against bicubic, by PSNR and SSIM against the original.

Per image: area-average it down by the scale, upscale that back with the upscale stage on its
default engine (lanczos + unsharp, PNG out so no JPEG loss enters the comparison) and with
plain bicubic, and compare both with the original (workers.media.quality.psnr_ssim: RGB
averages).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workers.media.ffmpeg import run_ffmpeg
from workers.media.quality import psnr_ssim

# lavfi sources of detailed synthetic stills: a fractal (fine detail everywhere) and a test card
# (flat colours, hard edges, text)
SYNTHETIC_SOURCES = {
    "fractal": "mandelbrot=size=640x480:start_scale=2.5",
    "test-card": "testsrc2=size=640x480",
}


@dataclass(frozen=True)
class Comparison:
    """Means over a set of images."""

    images: int
    default_psnr_db: float
    default_ssim: float
    bicubic_psnr_db: float
    bicubic_ssim: float

    @property
    def is_at_least_bicubic(self) -> bool:
        return (
            self.default_psnr_db >= self.bicubic_psnr_db and self.default_ssim >= self.bicubic_ssim
        )


def write_synthetic_stills(*, folder: Path) -> list[Path]:
    """One PNG per SYNTHETIC_SOURCES entry (the frame at 1 s), in `folder`."""
    paths = []
    for name, source in SYNTHETIC_SOURCES.items():
        path = folder / f"{name}.png"
        run_ffmpeg(["-f", "lavfi", "-i", source, "-ss", "1", "-frames:v", "1", "-update", "1",
                    str(path)])  # fmt: skip
        paths.append(path)
    return paths


def compare(*, originals: Sequence[Path], scale: int, workdir: Path) -> Comparison:
    """Mean PSNR/SSIM of default-engine and bicubic round trips over `originals`."""
    from workers.engines.lanczos import LanczosEngine
    from workers.stages.upscale import Upscale

    engine = LanczosEngine()
    engine.load()
    scores: list[tuple[float, float, float, float]] = []
    for index, original in enumerate(originals):
        folder = workdir / f"{index:02d}-{original.stem}"
        folder.mkdir(parents=True)
        small, bicubic = folder / "small.png", folder / "bicubic.png"
        run_ffmpeg(["-i", str(original), "-vf", f"scale=iw/{scale}:ih/{scale}:flags=area",
                    "-update", "1", str(small)])  # fmt: skip
        run_ffmpeg(["-i", str(small), "-vf", f"scale=iw*{scale}:ih*{scale}:flags=bicubic",
                    "-update", "1", str(bicubic)])  # fmt: skip
        [upscaled] = Upscale().run(
            item={},
            inputs={"media": small},
            params={"scale": scale, "format": "png"},
            engine=engine,
            workdir=folder,
        )
        default = psnr_ssim(reference=original, candidate=upscaled.path)
        plain = psnr_ssim(reference=original, candidate=bicubic)
        scores.append((*default, *plain))
    columns = list(zip(*scores, strict=True))
    return Comparison(len(scores), *(statistics.fmean(column) for column in columns))
