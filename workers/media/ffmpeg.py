"""Running ffmpeg (from the imageio-ffmpeg wheel): commands, raw-frame encoders, probing."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType

import numpy as np

from workers.cancellation import check_canceled, is_canceled
from workers.engines.base import EngineError, PermanentEngineError

_CANCEL_POLL_S = 0.25  # how long a cancel may wait for a running ffmpeg to be killed


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@cache
def ffmpeg_version() -> str:
    first = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return first[0].split()[2] if first else "unknown"


def run_ffmpeg(args: Sequence[str], *, timeout_s: float = 1800) -> str:
    """Run ffmpeg with `args` (no binary, no -y needed); return its stderr (the log).

    Raises:
        EngineError: ffmpeg failed or timed out; the message ends with ffmpeg's last lines.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
    check_canceled()
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        stderr = _wait_cancelable(process, timeout_s=timeout_s)
    if process.returncode != 0:
        raise EngineError(f"ffmpeg failed ({process.returncode}): {_tail(stderr)}")
    return stderr


def _wait_cancelable(process: subprocess.Popen[str], *, timeout_s: float) -> str:
    """ffmpeg's stderr once it exits; killed on a timeout or when the stage is canceled.

    Raises:
        EngineError: the timeout passed.
        StageCanceled: the stage run was canceled while ffmpeg ran.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, stderr = process.communicate(timeout=_CANCEL_POLL_S)
            return stderr
        except subprocess.TimeoutExpired:
            if is_canceled() or time.monotonic() > deadline:
                process.kill()
                process.communicate()
                check_canceled()
                raise EngineError(f"ffmpeg timed out after {timeout_s:.0f} s") from None


def _tail(log: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in log.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class H264Settings:
    """Encoder settings for deliverables: H.264 High, yuv420p, constant quality."""

    crf: int = 20
    preset: str = "veryfast"
    profile: str = "high"
    gop_s: float = 2.0

    encoder: str = "libx264"  # or "h264_nvenc" where nvenc_available()

    def args(self, *, fps: float) -> list[str]:
        gop = ["-g", str(max(1, round(self.gop_s * fps)))]
        if self.encoder == "h264_nvenc":
            # NVENC has no CRF: constant-quality VBR at the same number, presets p1..p7
            return [
                "-c:v", "h264_nvenc", "-preset", "p5", "-rc", "vbr", "-cq", str(self.crf),
                "-b:v", "0", "-profile:v", self.profile, "-pix_fmt", "yuv420p", *gop,
            ]  # fmt: skip
        return [
            "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-profile:v", self.profile, "-pix_fmt", "yuv420p", *gop,
        ]  # fmt: skip


@cache
def nvenc_available() -> bool:
    """Whether this machine can encode H.264 on an NVIDIA GPU (tried, not guessed)."""
    probe = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
        "-i", "color=black:size=256x256:rate=25", "-frames:v", "2", "-c:v", "h264_nvenc",
        "-f", "null", "-",
    ]  # fmt: skip
    try:
        return subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class FrameEncoder:
    """Streams RGB frames (H x W x 3 uint8 arrays) into one ffmpeg process writing an MP4.

    No frame touches the disk: each array's buffer goes straight to ffmpeg's stdin.

    Args:
        path: the output file (.mp4).
        width, height: frame size in pixels (even numbers, as yuv420p requires).
        fps: frames per second.
        h264: encoder settings.
        audio_path: optional audio to mux in (AAC 48 kHz), else a video-only file.
        extra_output_args: appended before the output path (e.g. "-movflags", "+faststart").
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: float,
        h264: H264Settings | None = None,
        audio_path: Path | None = None,
        extra_output_args: Sequence[str] = (),
    ) -> None:
        if width % 2 or height % 2:
            raise PermanentEngineError(f"frame size {width}x{height} must be even for yuv420p")
        self.path, self.width, self.height, self.fps = path, width, height, fps
        inputs = [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{fps}",
            "-i",
            "pipe:0",
        ]
        audio = (
            ["-i", str(audio_path), "-c:a", "aac", "-ar", "48000", "-b:a", "160k"]
            if audio_path
            else []
        )
        mapping = ["-map", "0:v:0", "-map", "1:a:0"] if audio_path else []
        self._command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            *inputs,
            *audio,
            *mapping,
            *(h264 or H264Settings()).args(fps=fps),
            *extra_output_args,
            str(path),
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = b""
        self.frames_written = 0

    def __enter__(self) -> FrameEncoder:
        self._process = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()
        return self

    def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        self._stderr = self._process.stderr.read()

    def write(self, frame: np.ndarray) -> None:
        """Send one frame; it must be C-contiguous uint8 of shape (height, width, 3).

        Raises:
            StageCanceled: the stage run was canceled (checked before every frame).
        """
        assert self._process is not None and self._process.stdin is not None
        check_canceled()
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {frame.shape} {frame.dtype}, want ({self.height}, {self.width}, 3) uint8"
            )
        try:
            self._process.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except BrokenPipeError as error:
            self._process.wait()
            self._reader.join()
            raise EngineError(
                f"ffmpeg stopped: {_tail(self._stderr.decode(errors='replace'))}"
            ) from error
        self.frames_written += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None and self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # ffmpeg already gone: its exit code says why
            self._process.stdin.close()
        if exc_type is not None:
            self._process.kill()
        code = self._process.wait()
        self._reader.join()
        if exc_type is None and code != 0:
            raise EngineError(
                f"ffmpeg failed ({code}): {_tail(self._stderr.decode(errors='replace'))}"
            )
