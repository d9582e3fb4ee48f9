"""Frame compositing: per frame, only the pan-and-zoom warp and the active card's alpha blend."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from workers.showcase.canvas import Sprite
from workers.showcase.cards import CardSet
from workers.showcase.layout import Layout
from workers.showcase.motion import camera_at, ease, view_matrix
from workers.showcase.shots import CardCue, Shot

_FADE_IN_S = 0.45
_FADE_OUT_S = 0.3


class Compositor:
    """Renders frame after frame into one reused buffer.

    The static background and the cards are drawn once (CardSet); per frame the photo area
    is warped from the still, and a panel beside the photo is redrawn only when its card
    or that card's fade changes.
    """

    def __init__(
        self,
        *,
        layout: Layout,
        stills: Sequence[np.ndarray],
        card_set: CardSet,
        cues: Sequence[CardCue],
        shots: Sequence[Shot],
        fps: float,
    ) -> None:
        self._layout, self._set = layout, card_set
        self._cues, self._shots, self._fps = cues, shots, fps
        # OpenCV warps four-channel images with SIMD but three-channel ones pixel by pixel
        # (2.5x slower), so the photo is warped as RGBA and converted into the frame.
        self._stills = [cv2.cvtColor(still, cv2.COLOR_RGB2RGBA) for still in stills]
        self._frame = card_set.background.copy()
        self._photo = self._frame[layout.photo.slices]
        self._warped = np.empty((layout.photo.h, layout.photo.w, 4), np.uint8)
        self._scratch = np.empty_like(self._warped)
        self._panel_state: tuple[object, ...] | None = None

    def render(self, index: int) -> np.ndarray:
        """Frame `index` (time index / fps): RGB uint8 (H, W, 3), valid until the next call."""
        time_s = index / self._fps
        self._draw_photo(time_s)
        state = card_state(self._cues, time_s, slide_px=self._set.slide_px)
        if self._layout.is_overlay:
            for overlay in self._set.overlays:
                blend(self._frame, overlay, opacity=1.0, shift_y=0)
            self._draw_card(state)
        elif state != self._panel_state:
            rows, cols = self._layout.panel.slices
            self._frame[rows, cols] = self._set.background[rows, cols]
            self._draw_card(state)
            self._panel_state = state
        return self._frame

    def _draw_card(self, state: tuple[str, int, float, int] | None) -> None:
        if state is not None:
            kind, number, opacity, shift_y = state
            blend(self._frame, self._set.cards[(kind, number)], opacity=opacity, shift_y=shift_y)

    def _draw_photo(self, time_s: float) -> None:
        active = [s for s in self._shots if s.start_s <= time_s < s.end_s] or [self._shots[-1]]
        self._warp(active[0], time_s, self._warped)
        if len(active) > 1:
            leaving, arriving = active[0], active[1]
            self._warp(arriving, time_s, self._scratch)
            weight = ease((time_s - arriving.start_s) / (leaving.end_s - arriving.start_s))
            cv2.addWeighted(self._warped, 1 - weight, self._scratch, weight, 0, dst=self._warped)
        _check_in_place(
            cv2.cvtColor(self._warped, cv2.COLOR_RGBA2RGB, dst=self._photo), self._photo
        )

    def _warp(self, shot: Shot, time_s: float, out: np.ndarray) -> None:
        still = self._stills[shot.still_index]
        area_h, area_w = out.shape[:2]
        matrix = view_matrix(
            camera=camera_at(shot=shot, time_s=time_s),
            still_w=still.shape[1],
            still_h=still.shape[0],
            area_w=area_w,
            area_h=area_h,
        )
        written = cv2.warpAffine(
            still,
            matrix,
            (area_w, area_h),
            dst=out,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        _check_in_place(written, out)


def _check_in_place(written: np.ndarray, buffer: np.ndarray) -> None:
    # OpenCV silently allocates a new array when `dst` does not fit; the frame would go stale.
    if written is not buffer:
        raise RuntimeError("OpenCV did not write into the frame buffer")


def card_state(
    cues: Sequence[CardCue], time_s: float, *, slide_px: int
) -> tuple[str, int, float, int] | None:
    """The card on screen at `time_s`: (kind, number, opacity 0..1, pixels below its rest)."""
    for position, cue in enumerate(cues):
        is_last = position == len(cues) - 1
        if cue.start_s <= time_s < cue.end_s or (is_last and time_s >= cue.start_s):
            span = cue.end_s - cue.start_s
            rising = ease((time_s - cue.start_s) / min(_FADE_IN_S, span / 3))
            falling = 1.0 if is_last else ease((cue.end_s - time_s) / min(_FADE_OUT_S, span / 4))
            opacity = min(rising, falling)
            if opacity <= 0:
                return None
            return cue.kind, cue.number, opacity, round(slide_px * (1 - rising))
    return None


def blend(frame: np.ndarray, sprite: Sprite, *, opacity: float, shift_y: int) -> None:
    """Composite a premultiplied sprite over the frame, in place, scaled by `opacity`."""
    top = sprite.y + shift_y
    rows = min(sprite.alpha.shape[0], frame.shape[0] - top)
    if rows <= 0:
        return
    cols = sprite.alpha.shape[1]
    region = frame[top : top + rows, sprite.x : sprite.x + cols]
    if opacity >= 1.0:
        inverse, color = sprite.inverse_alpha[:rows], sprite.premultiplied[:rows]
    else:
        # |255 - opacity * alpha| is 255 - opacity * alpha: convertScaleAbs saturates to uint8.
        inverse = cv2.convertScaleAbs(sprite.alpha[:rows], alpha=-opacity, beta=255)
        color = cv2.convertScaleAbs(sprite.premultiplied[:rows], alpha=opacity)
    cv2.multiply(region, inverse, dst=region, scale=1 / 255)
    cv2.add(region, color, dst=region)
