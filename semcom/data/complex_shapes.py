"""How one object of ShapesWorld-Complex (:mod:`semcom.data.complex`) is drawn: the outline
of each shape, its filled mask, and where a texture shows its second colour.

Pixels at 128×128 scale; angles in radians, turning as image coordinates do (x right,
y down).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

#: Stripe period and dot spacing in pixels (at 128×128).
PATTERN_PERIOD = 6.0


def _rotate(points: list[tuple[float, float]], cx: float, cy: float, angle: float):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


def outline(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """The polygon of a shape of circumradius ``r`` about (cx, cy), turned by ``angle``."""
    if shape == "circle":
        pts = [
            (r * math.cos(2 * math.pi * k / 48), r * math.sin(2 * math.pi * k / 48))
            for k in range(48)
        ]
    elif shape == "square":
        pts = [
            (
                r * math.cos(math.pi / 4 + k * math.pi / 2),
                r * math.sin(math.pi / 4 + k * math.pi / 2),
            )
            for k in range(4)
        ]
    elif shape == "triangle":
        pts = [
            (
                r * math.cos(-math.pi / 2 + 2 * math.pi * k / 3),
                r * math.sin(-math.pi / 2 + 2 * math.pi * k / 3),
            )
            for k in range(3)
        ]
    elif shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.45 * r
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif shape == "diamond":
        pts = [(0.0, -r), (0.6 * r, 0.0), (0.0, r), (-0.6 * r, 0.0)]
    elif shape == "cross":
        w = 0.36 * r
        pts = [
            (w, -r),
            (w, -w),
            (r, -w),
            (r, w),
            (w, w),
            (w, r),
            (-w, r),
            (-w, w),
            (-r, w),
            (-r, -w),
            (-w, -w),
            (-w, -r),
        ]
    elif shape == "heart":
        ts = [2 * math.pi * k / 40 for k in range(40)]
        raw = [
            (
                16 * math.sin(t) ** 3,
                -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)),
            )
            for t in ts
        ]
        # centre the curve on its box and scale its farthest point to r
        mx = (max(x for x, _ in raw) + min(x for x, _ in raw)) / 2
        my = (max(y for _, y in raw) + min(y for _, y in raw)) / 2
        far = max(math.hypot(x - mx, y - my) for x, y in raw)
        pts = [(r * (x - mx) / far, r * (y - my) / far) for x, y in raw]
    elif shape == "semicircle":
        pts = [
            (r * math.cos(math.pi * k / 24), 0.4 * r - r * math.sin(math.pi * k / 24))
            for k in range(25)
        ]
    else:
        raise ValueError(f"no outline for {shape!r}")
    return _rotate(pts, cx, cy, angle)


def shape_mask(shape: str, cx: float, cy: float, r: float, angle: float, size: int) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    ImageDraw.Draw(canvas).polygon(outline(shape, cx, cy, r, angle), fill=1)
    return np.asarray(canvas, dtype=bool)


def pattern_mask(texture: str, cx: float, cy: float, angle: float, size: int) -> np.ndarray:
    """Where a texture shows its second colour: bool [size, size] (object frame)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    u = (xx - cx) * math.cos(angle) + (yy - cy) * math.sin(angle)
    v = -(xx - cx) * math.sin(angle) + (yy - cy) * math.cos(angle)
    if texture == "stripes":
        return np.mod(u, PATTERN_PERIOD) < PATTERN_PERIOD / 2
    if texture == "dots":
        du = np.mod(u, PATTERN_PERIOD) - PATTERN_PERIOD / 2
        dv = np.mod(v, PATTERN_PERIOD) - PATTERN_PERIOD / 2
        return du * du + dv * dv <= 1.7**2
    return np.zeros((size, size), dtype=bool)
