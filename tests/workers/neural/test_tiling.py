"""Tiled inference: equal-size windows, every pixel kept once, same output as untiled."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests.workers.neural.conftest import EXACT_PAD_PX, TinyWeights
from workers.engines.neural.tiling import plan_axis, plan_tiles, run_tiled
from workers.engines.neural.upscaler import _pad_to_multiple


@given(
    size=st.integers(1, 400),
    tile=st.integers(1, 64).map(lambda n: 2 * n),
    pad=st.integers(0, 24).map(lambda n: 2 * n),
)
def test_axis_plan_keeps_every_pixel_once_inside_equal_windows(
    size: int, tile: int, pad: int
) -> None:
    spans = plan_axis(size=size, tile_px=tile, pad_px=pad)
    kept = [i for s in spans for i in range(s.keep_start, s.keep_start + s.keep_size)]
    assert kept == list(range(size))
    assert len({s.window_size for s in spans}) == 1
    for span in spans:
        assert span.window_start >= 0 and span.window_start + span.window_size <= size
        left_context = span.keep_start - span.window_start
        right_context = span.window_start + span.window_size - span.keep_start - span.keep_size
        assert left_context >= pad or span.window_start == 0
        assert right_context >= pad or span.window_start + span.window_size == size


def test_windows_of_one_image_share_one_shape() -> None:
    tiles = plan_tiles(height=300, width=170, tile_px=64, pad_px=16)
    shapes = {(t.rows.window_size, t.cols.window_size) for t in tiles}
    assert shapes == {(96, 96)}
    assert len(tiles) == 5 * 3


@pytest.mark.parametrize("fixture", ["tiny_x4", "tiny_x2"])
def test_tiled_inference_equals_untiled_within_float_tolerance(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    tiny: TinyWeights = request.getfixturevalue(fixture)
    model = tiny.module
    torch.manual_seed(5)
    image = torch.rand(3, 101, 77)
    padded = _pad_to_multiple(image, model.input_multiple)
    with torch.inference_mode():
        untiled = model(padded[None])[0]

        def run_windows(windows: list[torch.Tensor]) -> list[torch.Tensor]:
            assert len({w.shape for w in windows}) == 1
            return list(model(torch.stack(windows)).unbind(0))

        tiled = run_tiled(
            padded,
            scale=tiny.scale,
            tile_px=24,
            pad_px=EXACT_PAD_PX[tiny.scale],
            run_windows=run_windows,
        )
    assert tiled.shape == untiled.shape
    assert torch.allclose(tiled, untiled, atol=1e-5), (tiled - untiled).abs().max()


def test_small_pad_leaves_only_faint_seams(tiny_x4: TinyWeights) -> None:
    model = tiny_x4.module
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        untiled = model(image[None])[0]
        tiled = run_tiled(
            image,
            scale=4,
            tile_px=16,
            pad_px=4,
            run_windows=lambda ws: list(model(torch.stack(ws)).unbind(0)),
        )
    difference = (tiled - untiled).abs()
    assert difference.max() > 0  # the pad is below the receptive radius: seams exist
    assert difference.mean() < 0.01
