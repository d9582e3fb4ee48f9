"""The 2D anchor engine: drawn presenter or animated portrait, lip-synced from phoneme timings.

No weights: sprites are drawn with Pillow and composited with numpy (workers.anchor), and
frames go to ffmpeg's libx264 through a pipe.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import ClassVar

from workers.anchor.options import AnchorOptions
from workers.anchor.render import AnchorRequest, render_anchor
from workers.anchor.scene import studio_parts
from workers.engines.base import Engine
from workers.media.ffmpeg import ffmpeg_version


class Avatar2DEngine(Engine):
    """Renders anchor videos on the CPU; one instance per worker process."""

    name: ClassVar[str] = "avatar2d"
    # Bump when the same request would render different pixels (it is in the cache key).
    version: ClassVar[str] = "1.0.0"

    def load(self) -> None:
        """Draw the default look's studio and presenter sprites (about half a second) up front."""
        defaults = AnchorOptions()
        studio_parts(defaults.width, defaults.height, defaults.colors, defaults.presenter)

    def library_versions(self) -> dict[str, str]:
        return {
            "numpy": metadata.version("numpy"),
            "pillow": metadata.version("pillow"),
            "ffmpeg": ffmpeg_version(),
        }

    def render(self, request: AnchorRequest, *, out_path: Path) -> int:
        """Render `request` to an MP4 (H.264, no audio) at `out_path`; return the frame count.

        Raises:
            PermanentEngineError: a bad portrait or photo mode without one.
            EngineError: ffmpeg failed.
        """
        return render_anchor(request, out_path=out_path)
