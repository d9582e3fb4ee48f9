"""The lip-sync frame loop: the 2D anchor's frames with a still mouth, mouths from a network.

The base frames are the avatar2d engine's own (studio or photo scene, blinks, head sway and
nods), rendered with the mouth at rest so that the network alone moves the lips. Per chunk of
frames: crop the faces where the head is in each frame, take each frame's mel window, let
`infer` (the user's network, batched by the engine) generate the mouths, paste them back,
and stream the frames to ffmpeg. The network is behind `infer`, so nothing here needs torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from workers.anchor.face_crop import FaceBox, crop_faces, face_box, paste_mouths
from workers.anchor.lipsync_contract import check_frames
from workers.anchor.mel import decode_audio, mel_spectrogram, mel_windows
from workers.anchor.motion import Motion, plan_motion
from workers.anchor.render import AnchorRequest, FramePlan, build_scene, iterate_frames
from workers.anchor.scene import MAX_HEAD_SHIFT, Scene
from workers.anchor.studio import frame_unit
from workers.anchor.visemes import Shape, TrackSettings, build_track, frame_count, phoneme_segments
from workers.media.ffmpeg import FrameEncoder, H264Settings

# (mels (B, 1, 80, 16), faces (B, 6, 96, 96)) -> frames (B, 3, 96, 96); see lipsync_contract.
Infer = Callable[[np.ndarray, np.ndarray], np.ndarray]
CHUNK_FRAMES = 32  # frames handed to `infer` at once; the engine batches them further


def render_lipsync(
    request: AnchorRequest, *, audio_path: Path, out_path: Path, infer: Infer
) -> int:
    """Render the anchor video with network-generated mouths (H.264 MP4, no audio).

    Args:
        request: as for the avatar2d engine; the phonemes only time the head nods.
        audio_path: the narration, any format ffmpeg reads.
        out_path: the MP4 to write.
        infer: runs the lip-sync network on a batch.

    Returns:
        The number of frames: round(audio duration x fps).

    Raises:
        PermanentEngineError: a bad portrait, or a face that does not fit the frame.
        ContractError: the network's output breaks the contract.
        EngineError: ffmpeg failed.
    """
    options = request.options
    fps = options.fps
    n_frames = frame_count(duration_s=request.audio_duration_s, fps=fps)
    windows = mel_windows(mel_spectrogram(decode_audio(audio_path)), n_frames=n_frames, fps=fps)
    scene = build_scene(request)
    unit_px = frame_unit(width=options.width, height=options.height)
    motion = _motion(request, scene, n_frames=n_frames, unit_px=unit_px)
    boxes = face_boxes(scene, motion, unit_px=unit_px)
    plan = FramePlan(mouth=[Shape.X] * n_frames, motion=motion)
    h264 = H264Settings(crf=options.crf, preset=options.preset)
    height, width = scene.base.shape[:2]
    chunk: list[np.ndarray] = []
    with FrameEncoder(out_path, width=width, height=height, fps=fps, h264=h264) as encoder:
        for index, frame in enumerate(iterate_frames(scene=scene, plan=plan, unit_px=unit_px)):
            chunk.append(frame.copy())  # the loop reuses its buffer; pasting must not leak
            if len(chunk) == CHUNK_FRAMES or index == n_frames - 1:
                start = index + 1 - len(chunk)
                _lip_sync(chunk, boxes[start : index + 1], windows[start : index + 1], infer)
                for done in chunk:
                    encoder.write(done)
                chunk = []
        return encoder.frames_written


def _lip_sync(
    frames: list[np.ndarray], boxes: list[FaceBox], windows: np.ndarray, infer: Infer
) -> None:
    generated = infer(windows, crop_faces(frames, boxes))
    check_frames(generated, batch=len(frames))
    paste_mouths(frames, boxes, generated)


def _motion(request: AnchorRequest, scene: Scene, *, n_frames: int, unit_px: float) -> Motion:
    """Blinks, sway and speech nods as the avatar2d engine plans them."""
    settings = TrackSettings()
    segments = phoneme_segments(request.phonemes, settings=settings)
    track = build_track(segments, fps=request.options.fps, n_frames=n_frames, settings=settings)
    return plan_motion(
        n_frames=n_frames,
        fps=request.options.fps,
        seed=request.seed,
        openness=track.openness(),
        unit_px=unit_px,
        is_still=scene.rig is None,
    )


def face_boxes(scene: Scene, motion: Motion, *, unit_px: float) -> list[FaceBox]:
    """The face crop of every frame: the rest box moved with the head.

    The head offsets are clamped exactly as the frame loop clamps them (render.py), so the
    crop follows the drawn head pixel for pixel.
    """
    height, width = scene.base.shape[:2]
    reach = round(MAX_HEAD_SHIFT * unit_px) if scene.rig is not None else 0
    rest = face_box(mouth_box=scene.mouth_box, width=width, height=height, margin_px=reach)
    if scene.rig is None:
        return [rest] * len(motion.eyes)
    head_dx = np.clip(motion.head_dx, -reach, reach).tolist()
    head_dy = np.clip(motion.head_dy, -reach, reach).tolist()
    return [rest.shifted(dx, dy) for dx, dy in zip(head_dx, head_dy, strict=True)]
