"""FLAME joint rotations and pose-corrective weights from a performance (numpy only).

FLAME (Li et al. 2017) poses its mesh with five joints in this order: 0 global, 1 neck, 2 jaw, 3 left eye,
4 right eye, each rotated by an axis-angle vector in FLAME's frame (X to the subject's left, Y up, Z out of
the face). Its pose-corrective blendshapes are weighted by the flattened ``R - I`` of the rotation matrices
of joints 1..4 (9 values per joint, row-major): ``Pose1..Pose9`` neck, ``Pose10..Pose18`` jaw,
``Pose19..Pose27`` left eye, ``Pose28..Pose36`` right eye. The FLAME Blender add-on names its corrective
shape keys ``Pose1..`` in exactly that order.

Here each joint's rotation is built from the performance as an axis-angle vector ``(pitch, yaw, roll)`` about
FLAME's X, Y, Z axes:

* neck: the head channels (``headPitch``, ``headYaw``, ``headRoll``);
* jaw: ``jawOpen`` times the map's opening angle about X, ``jawLeft - jawRight`` times its lateral angle
  about Y (a positive Y turn moves the chin to the subject's left);
* eyes: ``eyeLookUp/Down/In/Out`` times ``look_radians``; looking up is a negative X turn, looking to the
  subject's left a positive Y turn (so the left eye looks left with ``eyeLookOutLeft``, the right eye with
  ``eyeLookInRight``).
"""
from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from .channels import INDEX

JOINTS: tuple[str, ...] = ("neck", "jaw", "left_eye", "right_eye")  # FLAME joints 1..4
_NUMBERED = re.compile(r"^(?P<prefix>exp|shape|pose)[_\-\s]?0*(?P<n>\d+)$", re.IGNORECASE)


def flame_key_index(name: str, prefix: str) -> int | None:
    """Index of a FLAME shape key in any zero-padding: ``Exp007``, ``Exp7``, ``exp_7`` -> 7 for ``"exp"``;
    None when ``name`` is not a ``prefix`` key."""
    m = _NUMBERED.match(name.strip())
    if m is None or m.group("prefix").lower() != prefix.lower():
        return None
    return int(m.group("n"))


def rodrigues(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Axis-angle vectors (T, 3) -> rotation matrices (T, 3, 3)."""
    v = np.asarray(v, np.float64).reshape(-1, 3)
    theta = np.linalg.norm(v, axis=1)
    safe = np.where(theta > 1e-12, theta, 1.0)
    k = v / safe[:, None]
    kx, ky, kz = k.T
    zero = np.zeros_like(kx)
    kmat = np.stack([np.stack([zero, -kz, ky], 1), np.stack([kz, zero, -kx], 1),
                     np.stack([-ky, kx, zero], 1)], 1)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    out = np.eye(3)[None] + s * kmat + (1.0 - c) * (kmat @ kmat)
    out[theta <= 1e-12] = np.eye(3)
    return out


def joint_rotations(perf: npt.ArrayLike, jaw_open_radians: float, jaw_lateral_radians: float,
                    look_radians: float, head: bool = True) -> dict[str, npt.NDArray[np.float64]]:
    """Performance (T, 55) -> axis-angle (pitch, yaw, roll) per joint of ``JOINTS``, each (T, 3)."""
    p = np.asarray(perf, np.float64)
    t = p.shape[0]
    zero = np.zeros(t)
    out = {}
    if head:
        out["neck"] = np.stack([p[:, INDEX["headPitch"]], p[:, INDEX["headYaw"]], p[:, INDEX["headRoll"]]], 1)
    else:
        out["neck"] = np.zeros((t, 3))
    out["jaw"] = np.stack([p[:, INDEX["jawOpen"]] * jaw_open_radians,
                           (p[:, INDEX["jawLeft"]] - p[:, INDEX["jawRight"]]) * jaw_lateral_radians, zero], 1)
    for side, own, sign in (("left_eye", "Left", 1.0), ("right_eye", "Right", -1.0)):
        up = p[:, INDEX[f"eyeLookUp{own}"]] - p[:, INDEX[f"eyeLookDown{own}"]]
        # toward the subject's left: the left eye looks out, the right eye looks in
        left = sign * (p[:, INDEX[f"eyeLookOut{own}"]] - p[:, INDEX[f"eyeLookIn{own}"]])
        out[side] = np.stack([-up * look_radians, left * look_radians, zero], 1)
    return out


def pose_correctives(rotations: dict[str, npt.ArrayLike]) -> npt.NDArray[np.float32]:
    """Axis-angle rotations of ``JOINTS`` (each (T, 3)) -> corrective weights (T, 36): ``(R - I)`` flattened
    row-major per joint, in FLAME's joint order (``Pose1`` is column 0)."""
    blocks = []
    for j in JOINTS:
        r = rodrigues(rotations[j])
        blocks.append((r - np.eye(3)[None]).reshape(-1, 9))
    return np.concatenate(blocks, axis=1).astype(np.float32)
