"""Burned-in captions: an ffmpeg `subtitles` filter (libass) drawing an SRT in broadcast style."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from workers.media.fonts import FONT_FAMILY, fonts_dir

# libass looks fonts up by their legacy family name (OpenType name ID 1), which for the
# bundled Noto Sans CJK file carries the style: "Noto Sans CJK TC Regular". The bare
# FONT_FAMILY (name ID 16, what fontconfig reports) silently falls back to a system font
# without Chinese glyphs.
LIBASS_FONT_NAME = f"{FONT_FAMILY} Regular"

# Text height as a share of the frame height (40 px at 720p), unless the widest line would
# then overflow 90% of the frame width (9:16 frames), where the width decides.
FONT_HEIGHT_SHARE = 0.055
TEXT_WIDTH_SHARE = 0.9
# Advance width in ems: Chinese characters are square; Latin averages about 0.55 in Noto
# Sans, rounded up so capitals and digits still fit.
WIDE_CHAR_EM = 1.0
NARROW_CHAR_EM = 0.6
BOTTOM_MARGIN_SHARE = 0.06

# ASS colours are &HAABBGGRR with AA = transparency: white text on a 38%-transparent box.
_STYLE = {
    "PrimaryColour": "&H00FFFFFF",
    "OutlineColour": "&HFF000000",  # invisible: the outline width only pads the box
    "BackColour": "&H60000000",
    "BorderStyle": "4",  # libass: one box behind the whole cue, in BackColour
    "Shadow": "0",
    "Alignment": "2",  # bottom centre
}


def subtitles_filter(
    *, srt_path: Path, width: int, height: int, margin_bottom_px: int | None = None
) -> str:
    """An ffmpeg `-vf` filter that burns the SRT into frames of width x height pixels.

    White text on a dark translucent box, bottom centre, in the bundled Noto Sans CJK
    font (Latin, Chinese, Spanish). The font scales with the frame height and shrinks so
    the SRT's widest line fits the frame width, so 16:9 and 9:16 frames both work.
    Reads the SRT to measure its lines. The layout resolution is set to the frame size,
    so sizes and margins below are in pixels.

    Args:
        srt_path: the SRT file (UTF-8); any characters in the path are escaped.
        width, height: the size of the frames the filter receives.
        margin_bottom_px: distance from the bottom edge to the last line (default 6% of
            the height), e.g. to clear a lower third.

    Returns:
        The filter, escaped for an ffmpeg filter graph (pass it as one argument, no shell).
    """
    font_px = _font_px(srt_path, width=width, height=height)
    margin_v = round(height * BOTTOM_MARGIN_SHARE) if margin_bottom_px is None else margin_bottom_px
    style = {
        "PlayResX": str(width),
        "PlayResY": str(height),
        "FontName": LIBASS_FONT_NAME,
        "FontSize": str(font_px),
        "Outline": str(max(1, round(font_px * 0.2))),  # the box's padding around the text
        "MarginV": str(margin_v),
        "MarginL": str(round(width * 0.04)),
        "MarginR": str(round(width * 0.04)),
        **_STYLE,
    }
    options = {
        "filename": str(srt_path.resolve()),
        "fontsdir": str(fonts_dir()),
        "charenc": "UTF-8",
        "force_style": ",".join(f"{key}={value}" for key, value in style.items()),
    }
    arguments = ":".join(f"{key}={_escape_option(value)}" for key, value in options.items())
    return "subtitles=" + _escape_graph(arguments)


def _font_px(srt_path: Path, *, width: int, height: int) -> int:
    widest_em = max((_line_em(line) for line in _srt_text_lines(srt_path)), default=0.0)
    font_px = height * FONT_HEIGHT_SHARE
    if widest_em > 0:
        font_px = min(font_px, width * TEXT_WIDTH_SHARE / widest_em)
    return max(8, round(font_px))


def _srt_text_lines(srt_path: Path) -> list[str]:
    """The caption lines of an SRT: not the cue numbers, timings or blank separators."""
    lines = srt_path.read_text("utf-8-sig").splitlines()
    return [
        line
        for previous, line in zip(["", *lines], lines, strict=False)
        if line.strip() and "-->" not in line and not (previous == "" and line.isdigit())
    ]


def _line_em(line: str) -> float:
    return sum(
        WIDE_CHAR_EM if unicodedata.east_asian_width(char) in ("W", "F") else NARROW_CHAR_EM
        for char in line
    )


def _escape_option(value: str) -> str:
    # First level: a filter option value, where ' \ : are special.
    return value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")


def _escape_graph(arguments: str) -> str:
    # Second level: the filter graph, where \ ' [ ] , ; are special.
    for char in "\\'[],;":
        arguments = arguments.replace(char, "\\" + char)
    return arguments
