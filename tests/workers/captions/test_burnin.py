"""Burned-in captions: the ffmpeg filter draws the SRT only while its cue is on screen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.media import probe_duration_s
from workers.captions.burnin import LIBASS_FONT_NAME, subtitles_filter
from workers.captions.cue import Cue
from workers.captions.formats import format_srt
from workers.media.ffmpeg import ffmpeg_exe, run_ffmpeg

FPS = 25


def decode_gray(path: Path, *, width: int, height: int) -> np.ndarray:
    """All frames of a video as 8-bit luma, shape (frames, height, width)."""
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)


@pytest.mark.parametrize(("width", "height"), [(320, 180), (180, 320)])
def test_captions_are_burned_in_at_the_bottom_during_their_cue_only(tmp_path, width, height):
    # Given an SRT in a folder whose name needs escaping in a filter graph
    folder = tmp_path / "it's [a]: b, c;d"
    folder.mkdir()
    srt_path = folder / "captions.srt"
    srt_path.write_text(format_srt([Cue(800, 1600, ("字幕 Caption", "línea dos"))]), "utf-8")
    video_path = tmp_path / "burned.mp4"
    # When it is burned into a 2 s clip
    source = f"color=c=0x336699:s={width}x{height}:d=2:r={FPS}"
    burn = subtitles_filter(srt_path=srt_path, width=width, height=height)
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(video_path)]
    log = run_ffmpeg(["-f", "lavfi", "-i", source, "-vf", burn, *encode])
    # Then the bundled font drew every glyph, and the video decodes
    assert "fallback" not in log and "not found" not in log, log
    assert probe_duration_s(video_path) == pytest.approx(2.0, abs=0.05)
    frames = decode_gray(video_path, width=width, height=height).astype(np.int16)
    assert len(frames) == 2 * FPS
    # and only the bottom of frames inside the cue (0.8 s to 1.6 s) differs from the rest
    before, during, after = frames[int(0.4 * FPS)], frames[int(1.2 * FPS)], frames[int(1.8 * FPS)]
    bottom = slice(int(height * 0.6), height)
    changed = np.abs(during[bottom] - before[bottom]) > 24
    assert changed.mean() > 0.02  # text and its box
    assert np.abs(during[: height // 2] - before[: height // 2]).max() <= 2
    assert np.abs(after - before).max() <= 2


def test_the_filter_names_the_bundled_font_and_escapes_the_path(tmp_path):
    folder = tmp_path / "it's [a]: b, c;d"
    folder.mkdir()
    srt_path = folder / "captions.srt"
    srt_path.write_text(format_srt([Cue(0, 1000, ("Hello",))]), "utf-8")
    text = subtitles_filter(srt_path=srt_path, width=1280, height=720)
    assert text.startswith("subtitles=filename=")
    assert "it\\\\\\'s \\[a\\]\\\\: b\\, c\\;d" in text
    assert f"FontName={LIBASS_FONT_NAME}" in text
    assert "PlayResX=1280\\,PlayResY=720" in text
    assert "FontSize=40" in text  # 5.5% of 720 px


def test_the_font_shrinks_so_the_widest_line_fits_a_vertical_frame(tmp_path):
    srt_path = tmp_path / "captions.srt"
    srt_path.write_text(format_srt([Cue(0, 1000, ("x" * 42,))]), "utf-8")
    text = subtitles_filter(srt_path=srt_path, width=720, height=1280)
    assert "FontSize=26" in text  # 42 narrow characters in 90% of 720 px
    assert "Alignment=2" in text  # bottom centre
