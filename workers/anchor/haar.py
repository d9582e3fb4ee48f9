"""Face, eye and mouth regions of a portrait from the Haar cascades that OpenCV 4.x ships.

OpenCV's wheels up to 4.x carry the cascade XML files in `cv2.data.haarcascades`; 5.0
moved `CascadeClassifier` out of the main package and ships no cascades, so there this
module refuses and asks for explicit boxes rather than guessing. Inside a found face, the
eyes come from `haarcascade_eye.xml` and the mouth from `haarcascade_smile.xml`; where
those find nothing, the regions are placed by average face proportions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workers.anchor.options import Box
from workers.engines.base import PermanentEngineError

_PASS_BOXES = "pass params.mouth_box and params.eye_boxes ([x, y, w, h] in portrait pixels)"


def find_face_regions(portrait: np.ndarray) -> tuple[Box, tuple[Box, Box]]:
    """(mouth_box, (left_eye, right_eye)) of the largest frontal face.

    Raises:
        PermanentEngineError: no cascades available, or no face found.
    """
    cv2 = _opencv()
    gray = cv2.equalizeHist(cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY))
    side = min(gray.shape[:2])
    faces = _cascade(cv2, "haarcascade_frontalface_default.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(side // 6, side // 6)
    )
    if len(faces) == 0:
        raise PermanentEngineError(f"no frontal face found in the portrait; {_PASS_BOXES}")
    fx, fy, fw, fh = (int(v) for v in max(faces, key=lambda f: int(f[2]) * int(f[3])))
    eyes = _find_eyes(cv2, gray, (fx, fy, fw, fh))
    mouth = _find_mouth(cv2, gray, (fx, fy, fw, fh))
    return mouth, eyes


def _opencv() -> Any:
    try:
        import cv2
    except ImportError as error:
        raise PermanentEngineError(
            f"finding the face needs opencv-python-headless, which is not installed; {_PASS_BOXES}"
        ) from error
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    has_cascades = (
        hasattr(cv2, "CascadeClassifier") and (Path(folder) / "haarcascade_eye.xml").exists()
    )
    if not has_cascades:
        raise PermanentEngineError(
            f"OpenCV {cv2.__version__} ships no Haar cascades (5.0 dropped them), so the face"
            f" cannot be found automatically; {_PASS_BOXES}, or install opencv-python-headless<5"
        )
    return cv2


def _cascade(cv2: Any, name: str) -> Any:
    classifier = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
    if classifier.empty():
        raise PermanentEngineError(f"OpenCV could not load its cascade {name}; {_PASS_BOXES}")
    return classifier


def _find_eyes(cv2: Any, gray: np.ndarray, face: Box) -> tuple[Box, Box]:
    fx, fy, fw, fh = face
    upper = gray[fy : fy + fh * 55 // 100, fx : fx + fw]
    found = _cascade(cv2, "haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.1, minNeighbors=6, minSize=(fw // 10, fw // 10)
    )
    left = [e for e in found if e[0] + e[2] / 2 < fw / 2]
    right = [e for e in found if e[0] + e[2] / 2 >= fw / 2]
    guess_w, guess_h = fw * 22 // 100, fh * 11 // 100
    guesses = (
        (fx + fw * 30 // 100 - guess_w // 2, fy + fh * 38 // 100, guess_w, guess_h),
        (fx + fw * 70 // 100 - guess_w // 2, fy + fh * 38 // 100, guess_w, guess_h),
    )
    boxes = []
    for side, guess in ((left, guesses[0]), (right, guesses[1])):
        if side:
            ex, ey, ew, eh = (int(v) for v in max(side, key=lambda e: int(e[2])))
            # The cascade box holds brow and lid; the eye itself is its middle band.
            boxes.append((fx + ex, fy + ey + eh * 30 // 100, ew, eh * 45 // 100))
        else:
            boxes.append(guess)
    return boxes[0], boxes[1]


def _find_mouth(cv2: Any, gray: np.ndarray, face: Box) -> Box:
    fx, fy, fw, fh = face
    top = fy + fh * 62 // 100
    lower = gray[top : fy + fh, fx : fx + fw]
    found = _cascade(cv2, "haarcascade_smile.xml").detectMultiScale(
        lower, scaleFactor=1.1, minNeighbors=20, minSize=(fw // 5, fh // 12)
    )
    centered = [m for m in found if abs(m[0] + m[2] / 2 - fw / 2) < fw * 0.15]
    if centered:
        mx, my, mw, mh = (int(v) for v in max(centered, key=lambda m: int(m[2])))
        return fx + mx, top + my, mw, mh
    return fx + fw * 32 // 100, fy + fh * 72 // 100, fw * 36 // 100, fh * 13 // 100
