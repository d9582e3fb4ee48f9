"""Ken Burns engine: pan-and-zoom over product stills with caption cards, streamed to H.264."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import cv2

from workers.engines.base import Engine
from workers.media.ffmpeg import FrameEncoder, ffmpeg_exe, ffmpeg_version
from workers.media.fonts import cjk_font_path
from workers.showcase.cards import CardText, draw_cards
from workers.showcase.layout import plan_layout
from workers.showcase.narration import NarrationParts
from workers.showcase.palette import pick_palette
from workers.showcase.params import ShowcaseParams
from workers.showcase.reel import Compositor
from workers.showcase.shots import CardCue, Shot, plan_cards, plan_shots
from workers.showcase.stills import load_still


@dataclass(frozen=True)
class ShowcaseRequest:
    """One product video to render.

    Attributes:
        still_paths: product photos in order (JPEG/PNG/WebP), at least one.
        narration: the script's parts placed on the narration clock.
        text: what the cards say.
        duration_s: narration length; the video lasts round(duration_s * fps) frames.
        params: frame size, rate, colours, brand, encoder.
    """

    still_paths: tuple[Path, ...]
    narration: NarrationParts
    text: CardText
    duration_s: float
    params: ShowcaseParams


@dataclass(frozen=True)
class ShowcaseRender:
    """What was rendered: frame count, duration and the timeline, for callers and tests."""

    frame_count: int
    duration_s: float
    cues: tuple[CardCue, ...]
    shots: tuple[Shot, ...]


class KenburnsEngine(Engine):
    """Renders product videos on the CPU with OpenCV warps, Pillow text and ffmpeg's libx264."""

    name: ClassVar[str] = "kenburns"
    version: ClassVar[str] = "1.0.0"

    def load(self) -> None:
        """Find the font and ffmpeg now, so a broken install fails at worker start."""
        cjk_font_path()
        ffmpeg_exe()

    def library_versions(self) -> dict[str, str]:
        return {
            "ffmpeg": ffmpeg_version(),
            "opencv": cv2.__version__,
            "pillow": metadata.version("pillow"),
            "numpy": metadata.version("numpy"),
        }

    def render(self, *, request: ShowcaseRequest, video_path: Path) -> ShowcaseRender:
        """Render the video-only MP4 (H.264 High, yuv420p) at `video_path`.

        Raises:
            PermanentEngineError: a still is not an image or is too large.
            EngineError: ffmpeg failed.
        """
        params = request.params
        layout = plan_layout(width=params.width, height=params.height)
        photo = layout.photo
        stills = [load_still(path=p, area_w=photo.w, area_h=photo.h) for p in request.still_paths]
        palette = pick_palette(photo=stills[0], overrides=params.colors)
        frame_count = max(1, round(request.duration_s * params.fps))
        duration_s = frame_count / params.fps
        cues = plan_cards(parts=request.narration, duration_s=duration_s)
        shots = plan_shots(
            duration_s=duration_s,
            still_count=len(stills),
            cut_points_s=[c.start_s for c in cues[1:]],
        )
        compositor = Compositor(
            layout=layout,
            stills=stills,
            card_set=draw_cards(layout=layout, palette=palette, text=request.text),
            cues=cues,
            shots=shots,
            fps=params.fps,
        )
        encoder = FrameEncoder(
            video_path, width=params.width, height=params.height, fps=params.fps, h264=params.h264
        )
        with _single_threaded_opencv(), encoder:
            for index in range(frame_count):
                encoder.write(compositor.render(index))
        return ShowcaseRender(frame_count, duration_s, tuple(cues), tuple(shots))


@contextmanager
def _single_threaded_opencv() -> Iterator[None]:
    """Per-frame warps are small: OpenCV's thread pool only fights x264 for the cores."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
