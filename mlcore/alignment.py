"""Face alignment from MTCNN's eye landmarks: the photo is turned about the face until the eye line is level.

Parents' photos show babies lying down, tilted and held sideways; FER2013's faces are upright. Turning each face
upright before the crop means the network sees one pose of the eyes and mouth instead of every angle. The crop
keeps the detector's square box and margin, so an aligned crop frames the face like an unaligned one does.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

LEFT_EYE, RIGHT_EYE = 0, 1  # MTCNN's landmark order: the eyes as the photo shows them, then nose, mouth corners
MAX_TILT = 60.0  # degrees: a steeper eye line is more likely a misplaced landmark than a face on its side


def eye_angle(landmarks: np.ndarray) -> float:
    """Degrees the eye line is turned clockwise on screen (image y points down); 0 when it is level."""
    (lx, ly), (rx, ry) = landmarks[LEFT_EYE], landmarks[RIGHT_EYE]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def level_eyes(image: Image.Image, centre: tuple[float, float], landmarks: np.ndarray) -> Image.Image:
    """The photo turned about ``centre`` until the eye line is level (unturned past ``MAX_TILT``)."""
    angle = eye_angle(landmarks)
    if not angle or abs(angle) > MAX_TILT:
        return image
    # PIL turns counter-clockwise by a positive angle: exactly undoing a clockwise tilt of ``angle``.
    return image.rotate(angle, resample=Image.Resampling.BILINEAR, center=centre)
