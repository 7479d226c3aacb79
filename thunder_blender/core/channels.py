"""Channel layout shared by the model, the runtime, the exporters and the training code.

A performance is an array of shape ``(T, 55)``: the 52 ARKit blendshape weights in
``ARKIT_52`` order (0..1), then head rotation ``HEAD_CHANNELS`` in radians
(yaw, pitch, roll), sampled at the model's frame rate (see the model card).
"""
from __future__ import annotations

ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_52) == 52 and len(set(ARKIT_52)) == 52

HEAD_CHANNELS: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")
CHANNELS: tuple[str, ...] = ARKIT_52 + HEAD_CHANNELS
N_CHANNELS = len(CHANNELS)  # 55
N_ARKIT = len(ARKIT_52)  # 52: channels [0, N_ARKIT) are blendshape weights in 0..1
HEAD_INDEX: tuple[int, ...] = tuple(range(N_ARKIT, N_CHANNELS))
INDEX: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}

# Channels the phones determine (jaw, lips, cheeks puffing, tongue).
MOUTH_CHANNELS: tuple[str, ...] = tuple(
    n for n in ARKIT_52 if n.startswith(("jaw", "mouth")) or n in ("cheekPuff", "tongueOut")
)
MOUTH_INDEX: tuple[int, ...] = tuple(INDEX[n] for n in MOUTH_CHANNELS)
# Channels the audio leaves open: eyes, brows, cheek squint, nose, head.
UPPER_CHANNELS: tuple[str, ...] = tuple(n for n in CHANNELS if n not in MOUTH_CHANNELS)
UPPER_INDEX: tuple[int, ...] = tuple(INDEX[n] for n in UPPER_CHANNELS)

# Emotion conditioning. Index 0 is "auto" (the null condition used for dropout / guidance).
EMOTIONS: tuple[str, ...] = (
    "auto", "neutral", "happy", "sad", "angry", "surprised", "disgusted", "fearful",
)
EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}


def mirror_name(name: str) -> str:
    """Return the left/right counterpart of an ARKit channel name (or the name itself)."""
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name
