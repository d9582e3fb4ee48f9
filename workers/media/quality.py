"""Full-reference image quality: PSNR and SSIM of a candidate against a reference, with ffmpeg.

Both images are compared in 8-bit planar RGB, and the figures are ffmpeg's averages over
the R, G and B planes (psnr "average", ssim "All"), the usual full-colour convention.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from workers.media.ffmpeg import run_ffmpeg
from workers.media.probe import probe_media

_PSNR = re.compile(r"PSNR .*?average:(inf|[\d.]+)")
_SSIM = re.compile(r"SSIM .*?All:([\d.]+)")
# Both inputs go through the same conversion before the comparison filters see them.
_GRAPH = (
    "[0:v]format=gbrp,split[c0][c1];[1:v]format=gbrp,split[r0][r1];[c0][r0]psnr[p];[c1][r1]ssim[s]"
)


def psnr_ssim(*, reference: Path, candidate: Path) -> tuple[float, float]:
    """Compare two images (or the first frames of two videos) of the same size.

    Args:
        reference: the original.
        candidate: the reconstruction, e.g. an upscale of a downscaled copy.

    Returns:
        (PSNR in dB, inf for identical images; SSIM from 0 to 1).

    Raises:
        ValueError: the two are not the same size.
        EngineError: ffmpeg failed.
    """
    sizes = {_size(path) for path in (reference, candidate)}
    if len(sizes) != 1:
        raise ValueError(f"cannot compare images of different sizes: {sorted(sizes)}")
    log = run_ffmpeg(
        ["-nostats", "-i", str(candidate), "-i", str(reference), "-filter_complex", _GRAPH,
         "-map", "[p]", "-frames:v", "1", "-f", "null", "-",
         "-map", "[s]", "-frames:v", "1", "-f", "null", "-"]
    )  # fmt: skip
    psnr, ssim = _PSNR.search(log), _SSIM.search(log)
    if not psnr or not ssim:
        raise ValueError("ffmpeg printed no PSNR/SSIM summary")
    return (math.inf if psnr[1] == "inf" else float(psnr[1])), float(ssim[1])


def _size(path: Path) -> tuple[int, int]:
    video = probe_media(path).video
    if video is None:
        raise ValueError(f"{path.name} holds no picture")
    return video.width, video.height
