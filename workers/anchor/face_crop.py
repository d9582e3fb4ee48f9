"""Face crops for the lip-sync network, and pasting its mouths back with a feathered edge.

The anchor knows where the lips are (the drawn presenter's sprite, or the portrait's mouth
box), so no face detector runs: the face box is a square placed from the mouth, about as
Wav2Lip's detector crops a face (mouth at ~72 % of the box height, chin inside). Only the
mouth region is pasted back, an ellipse in the lower half of the box whose alpha falls to
zero over its outer quarter, so everything else in the frame keeps its original pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from workers.anchor.lipsync_contract import FACE_SIZE
from workers.engines.base import PermanentEngineError

Box = tuple[int, int, int, int]

FACE_PER_MOUTH_WIDTH = 2.5  # face box side / lip width
MOUTH_HEIGHT_IN_BOX = 0.72  # lip centre, as a fraction of the box height from its top
# The pasted ellipse, as fractions of the box side, centred on the lips.
MOUTH_RADIUS_X = 0.32
MOUTH_RADIUS_Y = 0.18
FEATHER = 0.25  # fraction of the ellipse radius over which alpha falls from 1 to 0
MIN_BOX_PX = 16


@dataclass(frozen=True)
class FaceBox:
    """A square face crop in frame pixels: top-left corner and side."""

    x: int
    y: int
    size: int

    def shifted(self, dx: int, dy: int) -> FaceBox:
        return FaceBox(self.x + dx, self.y + dy, self.size)


def face_box(*, mouth_box: Box, width: int, height: int, margin_px: int = 0) -> FaceBox:
    """The face crop around the lips at rest, kept `margin_px` inside the frame edges.

    Args:
        mouth_box: (x, y, w, h) of the lips, frame pixels.
        width, height: frame size.
        margin_px: room left for head motion, so shifted boxes stay in the frame.

    Raises:
        PermanentEngineError: the face is too small or does not fit in the frame.
    """
    mx, my, mw, mh = mouth_box
    size = round(mw * FACE_PER_MOUTH_WIDTH)
    if size < MIN_BOX_PX or size + 2 * margin_px > min(width, height):
        raise PermanentEngineError(
            f"a {size}px face box (from a {mw}px wide mouth) does not fit a {width}x{height} "
            f"frame for lip-sync; check params.mouth_box"
        )
    cx, cy = mx + mw / 2, my + mh / 2
    x = round(cx - size / 2)
    y = round(cy - MOUTH_HEIGHT_IN_BOX * size)
    x = min(max(x, margin_px), width - size - margin_px)
    y = min(max(y, margin_px), height - size - margin_px)
    return FaceBox(x, y, size)


def crop_faces(frames: Sequence[np.ndarray], boxes: Sequence[FaceBox]) -> np.ndarray:
    """The network's face input for each frame: (B, 6, 96, 96) float32, BGR in [0, 1].

    Channels 0-2 are the crop with its lower half zeroed; 3-5 the crop itself.
    """
    faces = np.empty((len(frames), 6, FACE_SIZE, FACE_SIZE), dtype=np.float32)
    for index, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        crop = frame[box.y : box.y + box.size, box.x : box.x + box.size, ::-1]  # RGB -> BGR
        small = cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        chw = small.transpose(2, 0, 1).astype(np.float32) / 255.0
        faces[index, 3:] = chw
        faces[index, :3] = chw
        faces[index, :3, FACE_SIZE // 2 :] = 0.0
    return faces


def paste_mouths(
    frames: Sequence[np.ndarray], boxes: Sequence[FaceBox], generated: np.ndarray
) -> None:
    """Blend each generated crop's mouth region into its frame, in place.

    Args:
        frames: (H, W, 3) uint8 RGB frames, written to.
        boxes: where each crop came from.
        generated: (B, 3, 96, 96) network output, BGR in [0, 1].
    """
    for frame, box, crop in zip(frames, boxes, generated, strict=True):
        bgr = np.clip(crop.transpose(1, 2, 0), 0.0, 1.0) * 255.0
        resized = cv2.resize(bgr, (box.size, box.size), interpolation=cv2.INTER_CUBIC)
        alpha, (y0, y1, x0, x1) = mouth_mask(box.size)
        view = frame[box.y + y0 : box.y + y1, box.x + x0 : box.x + x1]
        patch = resized[y0:y1, x0:x1, ::-1]  # BGR -> RGB
        blended = view * (1.0 - alpha) + patch * alpha
        view[:] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


@lru_cache(maxsize=16)
def mouth_mask(size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Alpha of the pasted region for a box of `size` px, cut to its bounding rows/columns.

    Returns:
        ((h, w, 1) float32 alpha in [0, 1], (y0, y1, x0, x1) of it within the box). Alpha is
        0 above the box's middle row, so the upper face is never touched.
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx = (xs - size / 2) / (MOUTH_RADIUS_X * size)
    dy = (ys - MOUTH_HEIGHT_IN_BOX * size) / (MOUTH_RADIUS_Y * size)
    distance = np.sqrt(dx**2 + dy**2)
    alpha = np.clip((1.0 - distance) / FEATHER, 0.0, 1.0)
    alpha[: size // 2] = 0.0
    rows, cols = np.nonzero(alpha)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    cut = np.ascontiguousarray(alpha[y0:y1, x0:x1, None])
    cut.setflags(write=False)
    return cut, (int(y0), int(y1), int(x0), int(x1))
