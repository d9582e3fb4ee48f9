"""Limits on uploaded input files: image pixels and audio/video duration, read from the header."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from producer.api.problems import ProblemError
from producer.media_probe import NotMedia, probe_media
from producer.settings import Settings


def check_upload_limits(*, data: bytes, name: str, settings: Settings) -> None:
    """Refuse an upload whose header declares too many pixels or too long a duration.

    Only the header is read (ffmpeg decodes nothing), so a decompression bomb is refused
    before any worker tries to decode it. A file ffmpeg cannot read is left to the stage that
    uses it, which sniffs the content and refuses what it cannot handle.

    Raises:
        ProblemError: 413 naming the file, the limit and the setting that raises it.
    """
    with tempfile.NamedTemporaryFile(prefix="mediaq-upload-") as handle:
        handle.write(data)
        handle.flush()
        try:
            info = probe_media(Path(handle.name))
        except (NotMedia, subprocess.TimeoutExpired):
            return
    shown = name[:120]
    if info.video is not None:
        pixels = info.video.width * info.video.height
        if pixels > settings.max_image_pixels:
            raise _too_large(
                "image-too-large",
                f"{shown!r} is {info.video.width}x{info.video.height} = {pixels} pixels; "
                f"at most {settings.max_image_pixels} (MEDIAQ_MAX_IMAGE_PIXELS)",
            )
    if info.duration_s is not None and info.duration_s > settings.max_media_duration_s:
        raise _too_large(
            "media-too-long",
            f"{shown!r} lasts {info.duration_s:.1f} s; at most {settings.max_media_duration_s:g} s "
            "(MEDIAQ_MAX_MEDIA_DURATION_S)",
        )


def _too_large(type_: str, detail: str) -> ProblemError:
    return ProblemError(
        413, type_, "Input file too large", detail, errors=[{"field": "body", "detail": detail}]
    )
