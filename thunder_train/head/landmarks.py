"""Semantic vertex indices of MediaPipe's 468-vertex canonical face (subject's left = +x).

These are the published landmark numbers of the face mesh topology (lip, eye, brow and face-oval contours).
Each contour is listed in order along the mesh edges; ``tests/test_head.py`` and the build check that
consecutive entries are joined by a mesh edge and that left and right contours mirror each other.
"""
from __future__ import annotations

# Inner lip contour (the mouth opening), corner to corner.
LIP_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Outer lip contour (vermilion border), corner to corner.
LIP_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT = 291, 61

# Eyelid contours, outer (lateral) corner to inner (medial) corner.
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)

# Eyebrows: lower row then upper row, lateral to medial.
BROW_LEFT = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
BROW_RIGHT = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
BROW_LEFT_INNER = (285, 295, 336, 296)
BROW_LEFT_OUTER = (276, 283, 300, 293)

# Face oval, clockwise from the top of the forehead (as seen from the front).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
# Oval points on the mandible (chin and jaw line below the jaw angle).
JAW_LINE = (152, 148, 176, 149, 150, 136, 172, 377, 400, 378, 379, 365, 397)

NOSE_TIP = 4
NOSE_BOTTOM = 2  # subnasale
CHIN = 152
FOREHEAD = 10
