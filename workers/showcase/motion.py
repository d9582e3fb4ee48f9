"""Pan and zoom: the eased, sub-pixel affine map from a still to the photo area at any instant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workers.showcase.shots import Move, Shot

MAX_ZOOM = 1.2


def ease(progress: float) -> float:
    """Smoothstep over [0, 1], clamped outside it.

    It starts and ends at rest, so chained moves meet with no jolt even when the next one
    turns back: the camera settles, then sets off again, like a motion-control rig.
    """
    u = min(max(progress, 0.0), 1.0)
    return u * u * (3 - 2 * u)


@dataclass(frozen=True)
class Camera:
    """A view of a still: zoom (1 = still just covers the area) and pan in [-1, 1] per axis."""

    zoom: float
    pan_x: float
    pan_y: float


def camera_at(*, shot: Shot, time_s: float) -> Camera:
    """Where the camera of `shot` looks at `time_s` (held at its ends outside the shot)."""
    u = ease((time_s - shot.start_s) / max(shot.end_s - shot.start_s, 1e-6))
    move: Move = shot.move
    return Camera(
        zoom=_lerp(move.zoom, u),
        pan_x=_lerp(move.pan_x, u),
        pan_y=_lerp(move.pan_y, u),
    )


def view_matrix(
    *, camera: Camera, still_w: int, still_h: int, area_w: int, area_h: int
) -> np.ndarray:
    """The 2x3 affine matrix (for cv2.warpAffine) that shows `camera`'s view of a still.

    The still is scaled to cover the area, times the zoom; the pan moves the view across
    the room that leaves, never past the still's edges. Coordinates are float, so slow
    moves advance by fractions of a pixel per frame instead of jumping whole pixels.

    Returns:
        float64 (2, 3): destination = M @ [source x, source y, 1], pixel centres at integers.
    """
    zoom = min(max(camera.zoom, 1.0), MAX_ZOOM)
    scale = max(area_w / still_w, area_h / still_h) * zoom
    room_x = (still_w * scale - area_w) / 2
    room_y = (still_h * scale - area_h) / 2
    # Continuous coordinates put pixel centres at +0.5; fold that into the offset.
    offset_x = -room_x * (1 + _clamp(camera.pan_x)) + 0.5 * scale - 0.5
    offset_y = -room_y * (1 + _clamp(camera.pan_y)) + 0.5 * scale - 0.5
    return np.array([[scale, 0.0, offset_x], [0.0, scale, offset_y]])


def _lerp(pair: tuple[float, float], u: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * u


def _clamp(value: float) -> float:
    return min(max(value, -1.0), 1.0)
