"""The frame loop: per frame, paste what changed onto one reused buffer and stream it to ffmpeg.

Per frame the work is a handful of array copies: restore the presenter's tile when the pose
changes, paste the head, then the mouth and eye patches; a frame identical to the one before
is sent again without touching the buffer. Nothing is drawn, allocated at frame size, or
written to disk here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.anchor.features import EYE_STATES
from workers.anchor.motion import Motion, plan_motion
from workers.anchor.options import AnchorOptions
from workers.anchor.overlay import disclosure_for, label_for
from workers.anchor.presenter import Patch
from workers.anchor.scene import MAX_BODY_SHIFT, MAX_HEAD_SHIFT, Scene, drawn_scene
from workers.anchor.studio import frame_unit
from workers.anchor.visemes import Shape, TrackSettings, build_track, frame_count, phoneme_segments
from workers.media.ffmpeg import FrameEncoder, H264Settings

# Body dx, dy and head dx, dy in pixels from rest.
Pose = tuple[int, int, int, int]


@dataclass(frozen=True)
class AnchorRequest:
    """One anchor video to make.

    Attributes:
        phonemes: the tts phoneme timings ({"phoneme", "start_s", "end_s"}).
        audio_duration_s: length of the narration; the video lasts as long, within a frame.
        headline: text of the lower third.
        language: BCP 47 tag of the item (label and disclosure language).
        item_kind: "news" or "product".
        seed: per-item seed for blinks and sway.
        options: validated stage params.
        portrait_path: the portrait for photo mode.
    """

    phonemes: Sequence[dict[str, object]]
    audio_duration_s: float
    headline: str
    language: str
    item_kind: str
    seed: int
    options: AnchorOptions
    portrait_path: Path | None = None


def render_anchor(request: AnchorRequest, *, out_path: Path) -> int:
    """Render and encode the anchor video (H.264 in MP4, no audio track).

    Returns:
        The number of frames: round(audio duration x fps).

    Raises:
        PermanentEngineError: an unreadable portrait, or photo mode without one.
        EngineError: ffmpeg failed.
    """
    options = request.options
    n_frames = frame_count(duration_s=request.audio_duration_s, fps=options.fps)
    settings = TrackSettings()
    segments = phoneme_segments(request.phonemes, settings=settings)
    track = build_track(segments, fps=options.fps, n_frames=n_frames, settings=settings)
    scene = build_scene(request)
    unit_px = frame_unit(width=options.width, height=options.height)
    motion = plan_motion(
        n_frames=n_frames,
        fps=options.fps,
        seed=request.seed,
        openness=track.openness(),
        unit_px=unit_px,
        is_still=scene.rig is None,
    )
    h264 = H264Settings(crf=options.crf, preset=options.preset)
    plan = FramePlan(mouth=track.shapes, motion=motion)
    return encode_video(
        scene=scene, plan=plan, out_path=out_path, fps=options.fps, h264=h264, unit_px=unit_px
    )


def build_scene(request: AnchorRequest) -> Scene:
    """The drawn studio, or the portrait scene in photo mode."""
    label = label_for(language=request.language, kind=request.item_kind)
    disclosure = disclosure_for(language=request.language)
    if request.options.mode == "photo":
        from workers.anchor.photo import photo_scene

        return photo_scene(
            options=request.options,
            portrait_path=request.portrait_path,
            headline=request.headline,
            label=label,
            disclosure=disclosure,
        )
    return drawn_scene(
        options=request.options, headline=request.headline, label=label, disclosure=disclosure
    )


@dataclass(frozen=True)
class FramePlan:
    """Everything that varies per frame, as arrays of length n_frames."""

    mouth: Sequence[Shape]
    motion: Motion

    @property
    def n_frames(self) -> int:
        return len(self.mouth)


def encode_video(
    *, scene: Scene, plan: FramePlan, out_path: Path, fps: int, h264: H264Settings, unit_px: float
) -> int:
    """Render every frame of `plan` and encode them to `out_path` (video only).

    Returns:
        The number of frames written.

    Raises:
        EngineError: ffmpeg failed.
    """
    height, width = scene.base.shape[:2]
    with FrameEncoder(out_path, width=width, height=height, fps=fps, h264=h264) as encoder:
        for frame in iterate_frames(scene=scene, plan=plan, unit_px=unit_px):
            encoder.write(frame)
        return encoder.frames_written


def iterate_frames(*, scene: Scene, plan: FramePlan, unit_px: float) -> Iterator[np.ndarray]:
    """Yield the frames of `plan`; each is the same buffer, valid until the next one."""
    frame = scene.base.copy()
    poses = _clamped_poses(plan.motion, unit_px).tolist()
    mouths = [scene.mouths[shape] for shape in plan.mouth]
    eyes = [scene.eyes[EYE_STATES[state]] for state in plan.motion.eyes]
    previous: tuple[object, ...] | None = None
    drawn_pose: Pose | None = None
    for index in range(plan.n_frames):
        body_dx, body_dy, head_dx, head_dy = poses[index]
        pose: Pose = (body_dx, body_dy, head_dx, head_dy)
        key = (pose, mouths[index], eyes[index])
        if key != previous:
            if pose != drawn_pose:
                _draw_pose(frame, scene, pose)
                drawn_pose = pose
            hx, hy = scene.head_xy[0] + head_dx, scene.head_xy[1] + head_dy
            _paste(frame, mouths[index], x=hx, y=hy)
            _paste(frame, eyes[index], x=hx, y=hy)
            previous = key
        yield frame


def _clamped_poses(motion: Motion, unit_px: float) -> np.ndarray:
    """(n, 4) int array of body dx, dy, head dx, dy, clamped to what the tiles cover."""
    body = round(MAX_BODY_SHIFT * unit_px)
    head = round(MAX_HEAD_SHIFT * unit_px)
    return np.stack(
        [
            np.clip(motion.body_dx, -body, body),
            np.clip(motion.body_dy, -body, body),
            np.clip(motion.head_dx, -head, head),
            np.clip(motion.head_dy, -head, head),
        ],
        axis=1,
    )


def _draw_pose(frame: np.ndarray, scene: Scene, pose: Pose) -> None:
    rig = scene.rig
    if rig is None:
        return
    body_dx, body_dy, head_dx, head_dy = pose
    x0, y0, x1, y1 = rig.region
    frame[y0:y1, x0:x1] = rig.body_tile(body_dx, body_dy)
    hx, hy = scene.head_xy[0] + head_dx, scene.head_xy[1] + head_dy
    rig.head.paste(frame, x=hx, y=hy)
    if rig.is_head_under_foreground:
        _reapply_foreground(frame, rig.foreground, box=(x0, y0, x1, y1))


def _reapply_foreground(
    frame: np.ndarray, foreground: np.ndarray, *, box: tuple[int, int, int, int]
) -> None:
    x0, y0, x1, y1 = box
    layer = foreground[y0:y1, x0:x1].astype(np.float32)
    alpha = layer[..., 3:4] / 255.0
    view = frame[y0:y1, x0:x1]
    view[:] = np.rint(layer[..., :3] * alpha + view.astype(np.float32) * (1.0 - alpha)).astype(
        np.uint8
    )


def _paste(frame: np.ndarray, patch: Patch, *, x: int, y: int) -> None:
    h, w = patch.pixels.shape[:2]
    np.copyto(
        frame[y + patch.y : y + patch.y + h, x + patch.x : x + patch.x + w],
        patch.pixels,
        where=patch.inside,
    )
