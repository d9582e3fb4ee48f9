"""Tiled inference for image-to-image networks: equal-size overlapping windows, stitched back.

Every window has the same size (tile + 2 * pad per side, or the whole axis when the image is
smaller), so windows from one image, and from different images, stack into one batch and fit
one TensorRT profile. A window near an edge is shifted inwards rather than shrunk; each window
contributes only its `keep` region, which has at least `pad` pixels of real context on every
side that is not the image's edge. With `pad` at least the network's receptive radius, tiled
output equals untiled output up to float rounding; with less, seams are faint and bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Span:
    """One axis of a tile: the window read, and the part of it kept (input pixels)."""

    window_start: int
    window_size: int
    keep_start: int
    keep_size: int


@dataclass(frozen=True)
class Tile:
    rows: Span
    cols: Span


def plan_axis(*, size: int, tile_px: int, pad_px: int) -> list[Span]:
    """Spans covering `size` pixels with tiles of `tile_px` and `pad_px` of context.

    Callers that need aligned windows (pixel-unshuffle) pass `size`, `tile_px` and `pad_px`
    that are all multiples of the alignment; every window start then is one too.
    """
    window = tile_px + 2 * pad_px
    if size <= window:
        return [Span(0, size, 0, size)]
    spans = []
    for keep_start in range(0, size, tile_px):
        window_start = min(max(keep_start - pad_px, 0), size - window)
        spans.append(Span(window_start, window, keep_start, min(tile_px, size - keep_start)))
    return spans


def plan_tiles(*, height: int, width: int, tile_px: int, pad_px: int) -> list[Tile]:
    """All tiles of an image, row by row."""
    rows = plan_axis(size=height, tile_px=tile_px, pad_px=pad_px)
    cols = plan_axis(size=width, tile_px=tile_px, pad_px=pad_px)
    return [Tile(row, col) for row in rows for col in cols]


def run_tiled(
    image: torch.Tensor,
    *,
    scale: int,
    tile_px: int,
    pad_px: int,
    run_windows: Callable[[list[torch.Tensor]], Sequence[torch.Tensor]],
) -> torch.Tensor:
    """Apply a network to an image window by window and stitch the outputs.

    Args:
        image: (C, H, W) on the CPU.
        scale: output pixels per input pixel along each axis.
        tile_px: tile size in input pixels.
        pad_px: context around each tile in input pixels.
        run_windows: (C, h, w) windows -> (C', h*scale, w*scale) outputs, in order; given all
            windows at once so it can batch them.

    Returns:
        (C', H*scale, W*scale) on the CPU.
    """
    _, height, width = image.shape
    tiles = plan_tiles(height=height, width=width, tile_px=tile_px, pad_px=pad_px)
    windows = [
        image[
            :,
            t.rows.window_start : t.rows.window_start + t.rows.window_size,
            t.cols.window_start : t.cols.window_start + t.cols.window_size,
        ]
        for t in tiles
    ]
    outputs = run_windows(windows)
    channels = outputs[0].shape[0]
    result = torch.empty((channels, height * scale, width * scale), dtype=outputs[0].dtype)
    for tile, output in zip(tiles, outputs, strict=True):
        top = (tile.rows.keep_start - tile.rows.window_start) * scale
        left = (tile.cols.keep_start - tile.cols.window_start) * scale
        rows = tile.rows.keep_size * scale
        cols = tile.cols.keep_size * scale
        result[
            :,
            tile.rows.keep_start * scale : tile.rows.keep_start * scale + rows,
            tile.cols.keep_start * scale : tile.cols.keep_start * scale + cols,
        ] = output[:, top : top + rows, left : left + cols]
    return result
