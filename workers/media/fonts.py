"""Fonts that ship inside a wheel, so captions and cards render the same on every machine.

Noto Sans CJK (the `cvttf-notosanscjk-regular` wheel) covers Latin, Chinese and Spanish text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from workers.engines.base import PermanentEngineError


@cache
def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK OpenType font.

    Raises:
        PermanentEngineError: the font wheel is not installed.
    """
    try:
        import cvttf_NotoSansCJK_Regular as package
    except ImportError as error:
        raise PermanentEngineError(
            "the font package cvttf-notosanscjk-regular is missing: pip install -e ."
        ) from error
    path = Path(package.__file__).parent / "NotoSansCJKtc-Regular.otf"
    if not path.exists():
        raise PermanentEngineError(f"font file missing from the font package: {path}")
    return path


FONT_FAMILY = "Noto Sans CJK TC"


@cache
def fonts_dir() -> Path:
    """The folder holding the font, for ffmpeg's subtitles filter (fontsdir=)."""
    return cjk_font_path().parent
