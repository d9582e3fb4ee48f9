"""Photo mode: a user's portrait in the studio, its mouth warped per shape and its eyes blinking.

Quality limits, honestly: this is a 2D warp of one still image, not a neural talking head.
The lower lip and chin are pushed down and the gap between the lips is painted as a dark
mouth with a hint of upper teeth; rounded shapes squeeze the lips sideways. The head never
moves, the jaw outline does not change, teeth and tongue are generic, and lighting is not
re-rendered, so wide-open shapes on a large close-up look stretched; blinks paint an eyelid
in the skin colour sampled above each eye, which fails on glasses and heavy shadows. Use
a frontal, evenly lit head-and-shoulders portrait with the mouth closed.

Regions come from params (mouth_box, eye_boxes, in portrait pixels) or, without them, from
OpenCV's Haar cascades where the installed OpenCV ships them (opencv-python-headless 4.x;
5.0 dropped the cascade files), with the eyes and mouth placed by face proportions when
their own cascades find nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from workers.anchor.features import EYE_STATES, MOUTH_POSES, MouthPose
from workers.anchor.options import AnchorOptions, Box
from workers.anchor.presenter import Patch
from workers.anchor.scene import Scene, foreground_layer
from workers.anchor.studio import studio_background, studio_layout
from workers.engines.base import PermanentEngineError

# Pillow warns at 89 MP and refuses at 179 MP; a portrait never needs more than this.
MAX_PORTRAIT_PIXELS = 40_000_000
_FEATHER = 0.04  # fraction of the frame width over which a narrow portrait fades out


def load_portrait(path: Path) -> np.ndarray:
    """Read an image file as (h, w, 3) uint8 RGB.

    Raises:
        PermanentEngineError: not an image, a corrupt one, or more than MAX_PORTRAIT_PIXELS.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PORTRAIT_PIXELS:
                    raise PermanentEngineError(
                        f"the portrait is {width}x{height} pixels; at most {MAX_PORTRAIT_PIXELS:,}"
                        " are accepted (a decompression bomb or an oversized photo)"
                    )
                return np.asarray(image.convert("RGB")).copy()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise PermanentEngineError(f"the portrait is not a readable image: {error}") from error
    except OSError as error:
        raise PermanentEngineError(f"the portrait could not be decoded: {error}") from error


def photo_scene(
    *,
    options: AnchorOptions,
    portrait_path: Path | None,
    headline: str,
    label: str,
    disclosure: str,
) -> Scene:
    """The portrait in the studio with mouth and eye patches; the scene is still otherwise."""
    if portrait_path is None:
        raise PermanentEngineError("params.mode 'photo' needs the input port 'portrait' (an image)")
    portrait = load_portrait(portrait_path)
    mouth_box, eye_boxes = options.mouth_box, options.eye_boxes
    if mouth_box is None or eye_boxes is None:
        found_mouth, found_eyes = detect_regions(portrait)
        mouth_box, eye_boxes = mouth_box or found_mouth, eye_boxes or found_eyes
    for box, name in ((mouth_box, "mouth_box"), *((eye, "eye_boxes") for eye in eye_boxes)):
        _check_inside(box, portrait.shape, name)
    layout = studio_layout(width=options.width, height=options.height)
    base = studio_background(layout, options.colors)
    scale, (left, top) = _place_portrait(
        base, portrait, mouth_box=mouth_box, center_x=layout.presenter_x
    )

    def to_frame(box: Box) -> Box:
        return _map_box(box, scale=scale, left=left, top=top)

    frame_mouth = to_frame(mouth_box)
    foreground = foreground_layer(
        options=options, headline=headline, label=label, disclosure=disclosure, with_desk=False
    )
    mouths = {shape: _mouth_patch(base, frame_mouth, pose) for shape, pose in MOUTH_POSES.items()}
    eyes = {
        state: _eyes_patch(base, [to_frame(eye) for eye in eye_boxes], state)
        for state in EYE_STATES
    }
    for patch in (*mouths.values(), *eyes.values()):
        _apply_foreground(patch, foreground)
    _over(base, foreground)
    return Scene(base=base, mouths=mouths, eyes=eyes, head_xy=(0, 0), mouth_box=frame_mouth)


def _check_inside(box: Box, shape: tuple[int, ...], name: str) -> None:
    x, y, w, h = box
    if x + w > shape[1] or y + h > shape[0]:
        raise PermanentEngineError(
            f"params.{name} {list(box)} reaches outside the {shape[1]}x{shape[0]} portrait"
        )


def _place_portrait(
    base: np.ndarray, portrait: np.ndarray, *, mouth_box: Box, center_x: int
) -> tuple[float, tuple[int, int]]:
    """Scale the portrait to the frame height and put its face on the presenter's line."""
    height, width = base.shape[:2]
    scale = height / portrait.shape[0]
    new_w = max(1, round(portrait.shape[1] * scale))
    resized = np.asarray(
        Image.fromarray(portrait).resize((new_w, height), Image.Resampling.LANCZOS)
    )
    face_x = (mouth_box[0] + mouth_box[2] / 2) * scale
    left = round(center_x - face_x) if new_w < width else round(width / 2 - face_x)
    left = min(max(left, width - new_w), 0) if new_w >= width else min(max(left, 0), width - new_w)
    x0, x1 = max(left, 0), min(left + new_w, width)
    part = resized[:, x0 - left : x1 - left].astype(np.float32)
    alpha = _edge_fade(
        x1 - x0, feather_px=round(width * _FEATHER), fade_left=x0 > 0, fade_right=x1 < width
    )
    view = base[:, x0:x1]
    view[:] = np.rint(part * alpha + view.astype(np.float32) * (1 - alpha)).astype(np.uint8)
    return scale, (left, 0)


def _edge_fade(width: int, *, feather_px: int, fade_left: bool, fade_right: bool) -> np.ndarray:
    ramp = np.ones(width, dtype=np.float32)
    feather = max(1, min(feather_px, width // 4))
    edge = np.linspace(0.0, 1.0, feather, dtype=np.float32)
    if fade_left:
        ramp[:feather] = edge
    if fade_right:
        ramp[-feather:] = np.minimum(ramp[-feather:], edge[::-1])
    return ramp[None, :, None]


def _map_box(box: Box, *, scale: float, left: int, top: int) -> Box:
    x, y, w, h = box
    return (
        round(x * scale + left),
        round(y * scale + top),
        max(2, round(w * scale)),
        max(2, round(h * scale)),
    )


def _mouth_patch(base: np.ndarray, box: Box, pose: MouthPose) -> Patch:
    """The mouth region of `base` warped to `pose`: lower lip and chin down, a dark gap between."""
    mx, my, mw, mh = box
    height, width = base.shape[:2]
    x0, x1 = max(mx - mw // 2, 0), min(mx + mw + mw // 2, width)
    y0, y1 = max(my - mh, 0), min(my + mh + 2 * mh, height)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    cx, cy = mx + mw / 2, my + mh / 2
    gap = pose.open / 17.0 * 0.42 * mw
    # The skin moves with a wide, smooth falloff; the opening itself stays within the lips.
    warp_x = _bump((xs - cx) / (0.8 * mw))
    opening_x = np.sqrt(np.clip(1.0 - ((xs - cx) / (0.46 * mw)) ** 2, 0.0, 1.0))
    chin = my + mh * 1.3
    below = np.where(ys > cy, np.clip(1.0 - (ys - chin) / max(y1 - chin, 1.0), 0.0, 1.0), 0.0)
    above = np.where(ys <= cy, np.clip(1.0 - (cy - ys) / max(cy - y0, 1.0), 0.0, 1.0), 0.0)
    src_y = ys - gap * warp_x * below + 0.15 * gap * warp_x * above
    squeeze = 1.0 - (1.0 - pose.half_width / 24.0) * 0.45
    lip_band = np.exp(-(((ys - cy) / (1.2 * mh)) ** 2)) * _bump((xs - cx) / mw)
    src_x = xs + (xs - cx) * (1.0 / squeeze - 1.0) * lip_band
    warped = _sample(base, src_x, src_y)
    top_edge = cy - 0.15 * gap * opening_x
    bottom_edge = cy + gap * opening_x
    inside = np.clip(np.minimum(ys - top_edge, bottom_edge - ys) + 0.5, 0.0, 1.0)
    inside *= np.clip((gap * opening_x - 0.5) * 2.0, 0.0, 1.0)
    mouth = _mouth_interior(
        ys, top_edge=top_edge, bottom_edge=bottom_edge, teeth=pose.teeth_top * opening_x
    )
    out = warped * (1 - inside[..., None]) + mouth * inside[..., None]
    pixels = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return Patch(x0, y0, pixels, np.ones((*pixels.shape[:2], 1), dtype=bool))


def _bump(u: np.ndarray) -> np.ndarray:
    """1 at 0, falling smoothly (cos²) to 0 at |u| = 1."""
    bump: np.ndarray = np.cos(np.clip(u, -1.0, 1.0) * np.pi / 2) ** 2
    return bump


def _mouth_interior(
    ys: np.ndarray, *, top_edge: np.ndarray, bottom_edge: np.ndarray, teeth: np.ndarray
) -> np.ndarray:
    depth = np.clip((ys - top_edge) / np.maximum(bottom_edge - top_edge, 1.0), 0.0, 1.0)[..., None]
    dark = np.array((62, 20, 26), dtype=np.float32) * (1.0 - 0.4 * depth)
    show = np.clip(teeth / 4.0, 0.0, 1.0)[..., None]
    is_teeth = np.clip((0.3 - depth) * 8.0, 0.0, 1.0) * show * 0.9
    teeth_color = np.array((214, 208, 198), dtype=np.float32)
    interior: np.ndarray = dark * (1 - is_teeth) + teeth_color * is_teeth
    return interior


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` at float coordinates (clamped to the image)."""
    height, width = image.shape[:2]
    xs = np.clip(xs, 0, width - 1.001)
    ys = np.clip(ys, 0, height - 1.001)
    x0, y0 = xs.astype(np.int32), ys.astype(np.int32)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    img = image.astype(np.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _eyes_patch(base: np.ndarray, boxes: list[Box], state: str) -> Patch:
    """One patch spanning both eyes, lids lowered for "half" and "closed"."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    out = base[y0:y1, x0:x1].astype(np.float32)
    if state != "open":
        for box in boxes:
            _lower_lid(base, out, box, origin=(x0, y0), closed=1.0 if state == "closed" else 0.5)
    pixels = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return Patch(x0, y0, pixels, np.ones((*pixels.shape[:2], 1), dtype=bool))


def _lower_lid(
    base: np.ndarray, out: np.ndarray, box: Box, *, origin: tuple[int, int], closed: float
) -> None:
    x, y, w, h = box
    strip = base[max(y - max(h // 3, 1), 0) : max(y, 1), x : x + w].reshape(-1, 3)
    lid = np.median(strip, axis=0) if strip.size else np.array((180, 140, 120), np.float32)
    ys, xs = np.mgrid[y : y + h, x : x + w].astype(np.float32)
    u = (xs - (x + w / 2)) / (w / 2)
    v = (ys - (y + h / 2)) / (h / 2)
    in_eye = np.clip((1.0 - (u**2 + v**2)) * 4.0, 0.0, 1.0)
    lid_edge = -1.0 + 2.0 * closed * 0.9  # where the lid stops, in v (-1 top .. 1 bottom)
    covered = np.clip((lid_edge - v) * h / 2 + 0.5, 0.0, 1.0) * in_eye
    shaded = lid * (0.92 + 0.08 * (1 - (v + 1) / 2))[..., None]
    lash = np.exp(-((((v - lid_edge) * h / 2) / 1.0) ** 2))[..., None] * in_eye[..., None] * 0.7
    ox, oy = origin
    view = out[y - oy : y - oy + h, x - ox : x - ox + w]
    view[:] = view * (1 - covered[..., None]) + shaded * covered[..., None]
    view[:] = view * (1 - lash) + np.array((40, 28, 24), np.float32) * lash


def _apply_foreground(patch: Patch, foreground: np.ndarray) -> None:
    h, w = patch.pixels.shape[:2]
    _over(patch.pixels, foreground[patch.y : patch.y + h, patch.x : patch.x + w])


def _over(base: np.ndarray, layer: np.ndarray) -> None:
    alpha = layer[..., 3:4].astype(np.float32) / 255.0
    if not np.any(alpha):
        return
    base[:] = np.rint(layer[..., :3] * alpha + base.astype(np.float32) * (1 - alpha)).astype(
        np.uint8
    )


def detect_regions(portrait: np.ndarray) -> tuple[Box, tuple[Box, Box]]:
    """Find the mouth and eyes with OpenCV's Haar cascades, where the installed OpenCV has them.

    Returns:
        (mouth_box, (left_eye_box, right_eye_box)) in portrait pixels.

    Raises:
        PermanentEngineError: no OpenCV or no shipped cascades, or no face found; the
            message says to pass params.mouth_box and params.eye_boxes.
    """
    from workers.anchor.haar import find_face_regions

    return find_face_regions(portrait)
