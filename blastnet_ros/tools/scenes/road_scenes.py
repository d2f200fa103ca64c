# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic road scenes: a forward camera on a road, with labelled objects.

`RoadSceneRenderer` draws what a car's forward camera sees: sky and skyline, a road in
perspective with lane markings scrolling by, vehicles (cars, SUVs, vans, trucks; oncoming,
overtaking and being overtaken), traffic lights cycling red/amber/green, traffic signs of
the eight `sign_vgg` classes, and pedestrians walking on the pavement; then varied lighting
and sensor noise. Every frame comes with its ground truth (`SceneObject` boxes).

A scene is a pure function of (seed, time): each object slot repeats in cycles whose
parameters come from a generator seeded by (seed, slot, cycle), so any frame can be
rendered on its own, frames of one seed are identical on every run, and objects move
smoothly within a cycle (they enter and leave far away or past the frame edge).

`render_sign_patch` draws a single sign on clutter, for training the sign classifier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import MODEL_SPECS

OBJECT_LABELS: Tuple[str, ...] = MODEL_SPECS['tiny_yolo'].labels
SIGN_CLASSES: Tuple[str, ...] = MODEL_SPECS['sign_vgg'].labels
LIGHT_STATES: Tuple[str, ...] = ('red', 'amber', 'green')

Colour = Tuple[int, int, int]
Box = Tuple[float, float, float, float]

# Drawing uses 4 fractional bits (cv2 `shift`), so small shapes keep sub-pixel accuracy.
_SHIFT = 4
_ONE = 1 << _SHIFT

_RED: Colour = (200, 24, 32)
_WHITE: Colour = (240, 240, 236)
_BLACK: Colour = (22, 22, 24)
_BLUE: Colour = (24, 84, 196)
_POLE: Colour = (120, 122, 126)

_VEHICLE_COLOURS: Tuple[Colour, ...] = (
    (232, 232, 230), (172, 174, 180), (34, 34, 38), (178, 28, 32), (32, 62, 160),
    (22, 38, 90), (36, 112, 64), (222, 182, 36), (216, 112, 34), (98, 100, 106),
    (200, 186, 150), (120, 30, 60), (80, 150, 190))
_SHIRT_COLOURS: Tuple[Colour, ...] = (
    (200, 40, 40), (40, 90, 190), (230, 200, 60), (40, 140, 80), (240, 240, 240),
    (60, 60, 66), (220, 120, 30), (140, 60, 160), (120, 80, 50))
_TROUSER_COLOURS: Tuple[Colour, ...] = (
    (30, 40, 80), (40, 40, 44), (90, 80, 70), (60, 70, 110), (150, 140, 120))
_SKIN_COLOURS: Tuple[Colour, ...] = (
    (238, 200, 170), (200, 150, 110), (150, 100, 70), (100, 66, 44))

# (width m, height m, boxy) of the vehicle kinds
_VEHICLE_KINDS: Tuple[Tuple[float, float, bool], ...] = (
    (1.8, 1.45, False), (1.9, 1.75, False), (2.0, 2.3, True), (2.5, 3.2, True))

_LIGHTINGS: Dict[str, Tuple[Tuple[float, float, float], float, float]] = {
    # name: (gain per channel r, g, b), gamma, noise factor
    'day': ((1.0, 1.0, 1.0), 1.0, 1.0),
    'bright': ((1.12, 1.1, 1.05), 0.9, 0.8),
    'overcast': ((0.86, 0.88, 0.92), 1.1, 1.2),
    'dusk': ((0.86, 0.72, 0.64), 1.25, 1.6),
}


@dataclass(frozen=True)
class SceneObject:
    """One labelled object of a rendered frame.

    `box` is (x_min, y_min, x_max, y_max) in pixels of the frame, max exclusive
    (rgb[y_min:y_max, x_min:x_max] is the visible object), clipped to the frame.
    `sign_class` is set for traffic signs, `light_state` for traffic lights, else ''.
    """

    label: str
    box: Tuple[int, int, int, int]
    sign_class: str = ''
    light_state: str = ''

    def to_dict(self) -> Dict[str, object]:
        """Return the object as plain JSON-ready values."""
        return {'label': self.label, 'box': list(self.box), 'sign_class': self.sign_class,
                'light_state': self.light_state}


@dataclass(frozen=True)
class _View:
    """A pinhole camera over a flat road; x right, z forward, heights above the road."""

    width: int
    height: int
    focal_px: float
    horizon_y: float
    camera_height_m: float
    center_x: float

    def u(self, x_m: float, z_m: float) -> float:
        return self.center_x + self.focal_px * x_m / z_m

    def v(self, z_m: float, h_m: float = 0.0) -> float:
        return self.horizon_y + self.focal_px * (self.camera_height_m - h_m) / z_m

    def scale(self, z_m: float) -> float:
        return self.focal_px / z_m


@dataclass(frozen=True)
class _Cycle:
    """One appearance of an object slot: where it goes and how it looks."""

    present: bool
    active_fraction: float
    x0_m: float
    x1_m: float
    change_at: float       # fraction of the active time where a lane change starts (x0->x1)
    z0_m: float
    z1_m: float
    style: int             # vehicle kind / sign class / pedestrian colours
    colour: Colour
    facing_front: bool
    height_m: float
    size_m: float
    phase: float


@dataclass(frozen=True)
class _Placed:
    """An object placed in the current frame, ready to draw (far to near)."""

    kind: str
    z_m: float
    cycle: _Cycle
    x_m: float
    local_s: float
    light_state: str = ''


class _Slot:
    """An object slot repeating in cycles of `period_s`; cycle parameters are cached."""

    def __init__(self, seed: int, kind: str, index: int, period_s: float,
                 offset_s: float) -> None:
        self.kind = kind
        self.index = index
        self.period_s = period_s
        self.offset_s = offset_s
        self._seed = seed
        self._kind_id = ('vehicle', 'traffic_light', 'traffic_sign', 'pedestrian').index(kind)
        self._cache: Dict[int, _Cycle] = {}

    def at(self, time_s: float, make) -> Tuple[_Cycle, float]:
        shifted = time_s + self.offset_s
        number = int(math.floor(shifted / self.period_s))
        local_s = shifted - number * self.period_s
        cycle = self._cache.get(number)
        if cycle is None:
            if len(self._cache) > 16:
                self._cache.clear()
            rng = np.random.default_rng((self._seed, self._kind_id, self.index, number))
            cycle = self._cache[number] = make(rng, self)
        return cycle, local_s


def _smoothstep(value: float) -> float:
    value = min(1.0, max(0.0, value))
    return value * value * (3.0 - 2.0 * value)


def _fixed(points: Sequence[Tuple[float, float]]) -> np.ndarray:
    """Return points as int32 fixed point (4 fractional bits), shaped for cv2 polygons."""
    return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32).reshape(
        -1, 1, 2)


def _poly(img: np.ndarray, points, colour: Colour, line_type: int = cv2.LINE_AA) -> None:
    cv2.fillPoly(img, [_fixed(points)], colour, line_type, _SHIFT)


def _circle(img: np.ndarray, cx: float, cy: float, radius: float, colour: Colour,
            thickness: int = -1) -> None:
    cv2.circle(img, (int(round(cx * _ONE)), int(round(cy * _ONE))),
               max(1, int(round(radius * _ONE))), colour, thickness, cv2.LINE_AA, _SHIFT)


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
    _poly(img, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), colour)


def _line(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: Colour,
          width: float) -> None:
    cv2.line(img, (int(round(x0 * _ONE)), int(round(y0 * _ONE))),
             (int(round(x1 * _ONE)), int(round(y1 * _ONE))), colour,
             max(1, int(round(width))), cv2.LINE_AA, _SHIFT)


def _centred_text(img: np.ndarray, text: str, cx: float, cy: float, max_width: float,
                  colour: Colour) -> None:
    """Draw `text` centred at (cx, cy), scaled to `max_width` pixels wide."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (width, height), _ = cv2.getTextSize(text, font, 1.0, 2)
    scale = max_width / width
    thickness = max(1, int(round(scale * 2.6)))
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = (int(round(cx - width / 2)), int(round(cy + height / 2)))
    cv2.putText(img, text, origin, font, scale, colour, thickness, cv2.LINE_AA)


def draw_sign(img: np.ndarray, sign_class: str, cx: float, cy: float, radius: float) -> Box:
    """Draw traffic sign `sign_class` centred at (cx, cy); return its box (float pixels).

    `radius` is half the sign's width. Shapes follow the European (Vienna convention)
    designs: red octagon STOP, inverted red-rimmed triangle yield, white discs with a red
    ring and the limit, red disc with a white bar, blue discs with turn arrows, a blue
    square with a walking figure on a zebra crossing.
    """
    r = radius
    if sign_class == 'stop':
        octagon = [(cx + r * math.cos(math.radians(22.5 + 45 * k)),
                    cy + r * math.sin(math.radians(22.5 + 45 * k))) for k in range(8)]
        _poly(img, octagon, _WHITE)
        inner = [(cx + 0.9 * (x - cx), cy + 0.9 * (y - cy)) for x, y in octagon]
        _poly(img, inner, _RED)
        if r >= 5:
            _centred_text(img, 'STOP', cx, cy, 1.45 * r, _WHITE)
        else:
            _rect(img, cx - 0.6 * r, cy - 0.12 * r, cx + 0.6 * r, cy + 0.12 * r, _WHITE)
        return cx - r, cy - r, cx + r, cy + r
    if sign_class == 'yield':
        top = cy - 0.8 * r
        bottom = cy + 0.95 * r
        _poly(img, ((cx - r, top), (cx + r, top), (cx, bottom)), _RED)
        centre_y = (2 * top + bottom) / 3
        inner = [(cx + 0.6 * (x - cx), centre_y + 0.6 * (y - centre_y))
                 for x, y in ((cx - r, top), (cx + r, top), (cx, bottom))]
        _poly(img, inner, _WHITE)
        return cx - r, top, cx + r, bottom
    if sign_class in ('speed_limit_30', 'speed_limit_50'):
        _circle(img, cx, cy, r, _RED)
        _circle(img, cx, cy, 0.78 * r, _WHITE)
        _centred_text(img, sign_class[-2:], cx, cy, 1.05 * r, _BLACK)
        return cx - r, cy - r, cx + r, cy + r
    if sign_class == 'no_entry':
        _circle(img, cx, cy, r, _WHITE)
        _circle(img, cx, cy, 0.94 * r, _RED)
        _rect(img, cx - 0.68 * r, cy - 0.16 * r, cx + 0.68 * r, cy + 0.16 * r, _WHITE)
        return cx - r, cy - r, cx + r, cy + r
    if sign_class in ('turn_left', 'turn_right'):
        _circle(img, cx, cy, r, _WHITE)
        _circle(img, cx, cy, 0.94 * r, _BLUE)
        side = 1.0 if sign_class == 'turn_right' else -1.0
        stem_x = cx - side * 0.28 * r
        bend_y = cy - 0.12 * r
        width = max(1.0, 0.2 * r)
        _line(img, stem_x, cy + 0.62 * r, stem_x, bend_y, _WHITE, width)
        _line(img, stem_x, bend_y, cx + side * 0.22 * r, bend_y, _WHITE, width)
        head_base = cx + side * 0.18 * r
        _poly(img, ((head_base, bend_y - 0.34 * r), (cx + side * 0.66 * r, bend_y),
                    (head_base, bend_y + 0.34 * r)), _WHITE)
        return cx - r, cy - r, cx + r, cy + r
    if sign_class == 'pedestrian_crossing':
        _rect(img, cx - r, cy - r, cx + r, cy + r, _WHITE)
        _rect(img, cx - 0.9 * r, cy - 0.9 * r, cx + 0.9 * r, cy + 0.9 * r, _BLUE)
        for k in range(4):  # zebra stripes
            x0 = cx - 0.7 * r + k * 0.38 * r
            _rect(img, x0, cy + 0.58 * r, x0 + 0.22 * r, cy + 0.78 * r, _WHITE)
        width = max(1.0, 0.13 * r)
        _circle(img, cx + 0.05 * r, cy - 0.58 * r, 0.14 * r, _WHITE)
        hip = (cx - 0.02 * r, cy + 0.08 * r)
        neck = (cx + 0.04 * r, cy - 0.4 * r)
        _line(img, neck[0], neck[1], hip[0], hip[1], _WHITE, width * 1.3)
        _line(img, hip[0], hip[1], cx - 0.3 * r, cy + 0.5 * r, _WHITE, width)
        _line(img, hip[0], hip[1], cx + 0.28 * r, cy + 0.5 * r, _WHITE, width)
        _line(img, neck[0], neck[1] + 0.1 * r, cx - 0.3 * r, cy - 0.05 * r, _WHITE, width)
        _line(img, neck[0], neck[1] + 0.1 * r, cx + 0.32 * r, cy - 0.12 * r, _WHITE, width)
        return cx - r, cy - r, cx + r, cy + r
    raise BadInputError(f"unknown sign class '{sign_class}'",
                        f'use one of: {", ".join(SIGN_CLASSES)}')


def _draw_vehicle(img: np.ndarray, u: float, v_bottom: float, scale: float, kind: int,
                  colour: Colour, facing_front: bool) -> Box:
    width_m, height_m, boxy = _VEHICLE_KINDS[kind]
    w = width_m * scale
    h = height_m * scale
    left, right, top = u - w / 2, u + w / 2, v_bottom - h
    shade = tuple(int(c * 0.72) for c in colour)
    glass = (46, 58, 72)
    # shadow on the road
    cv2.ellipse(img, (int(u * _ONE), int(v_bottom * _ONE)),
                (max(1, int(0.62 * w * _ONE)), max(1, int(0.07 * h * _ONE))), 0, 0, 360,
                (28, 28, 30), -1, cv2.LINE_AA, _SHIFT)
    wheel_w = 0.17 * w
    _rect(img, left + 0.04 * w, v_bottom - 0.2 * h, left + 0.04 * w + wheel_w, v_bottom,
          _BLACK)
    _rect(img, right - 0.04 * w - wheel_w, v_bottom - 0.2 * h, right - 0.04 * w, v_bottom,
          _BLACK)
    if boxy:
        _rect(img, left, top, right, v_bottom - 0.1 * h, colour)
        _rect(img, left + 0.08 * w, top + 0.08 * h, right - 0.08 * w, top + 0.36 * h,
              glass if facing_front else shade)
        _rect(img, left, v_bottom - 0.24 * h, right, v_bottom - 0.1 * h, shade)
        lamp_y = v_bottom - 0.32 * h
    else:
        body_top = v_bottom - 0.56 * h
        _rect(img, left, body_top, right, v_bottom - 0.12 * h, colour)
        _poly(img, ((left + 0.06 * w, body_top), (left + 0.2 * w, top),
                    (right - 0.2 * w, top), (right - 0.06 * w, body_top)), colour)
        _poly(img, ((left + 0.14 * w, body_top - 0.03 * h), (left + 0.25 * w, top + 0.08 * h),
                    (right - 0.25 * w, top + 0.08 * h), (right - 0.14 * w, body_top - 0.03 * h)),
              glass)
        _rect(img, left, v_bottom - 0.26 * h, right, v_bottom - 0.12 * h, shade)
        lamp_y = body_top + 0.08 * h
    lamp = (250, 246, 214) if facing_front else (236, 30, 30)
    lamp_h = 0.1 * h
    _rect(img, left + 0.05 * w, lamp_y, left + 0.22 * w, lamp_y + lamp_h, lamp)
    _rect(img, right - 0.22 * w, lamp_y, right - 0.05 * w, lamp_y + lamp_h, lamp)
    if w >= 24:
        _rect(img, u - 0.12 * w, v_bottom - 0.24 * h, u + 0.12 * w, v_bottom - 0.15 * h,
              (236, 236, 226))
    return left, top, right, v_bottom


def _draw_traffic_light(img: np.ndarray, u: float, v_top: float, v_ground: float,
                        scale: float, state: str) -> Box:
    w = 0.36 * scale
    h = 0.95 * scale
    _line(img, u, v_top + h, u, v_ground, _POLE, max(1.0, 0.1 * scale))
    _rect(img, u - w / 2, v_top, u + w / 2, v_top + h, (30, 32, 30))
    lit = {'red': (255, 40, 30), 'amber': (255, 170, 20), 'green': (40, 235, 110)}
    dim = {'red': (70, 22, 20), 'amber': (72, 56, 18), 'green': (20, 62, 34)}
    for k, name in enumerate(LIGHT_STATES):
        cy = v_top + h * (0.18 + 0.32 * k)
        if name == state:
            _circle(img, u, cy, 0.36 * w * 1.25, tuple(int(c * 0.6) for c in lit[name]))
            _circle(img, u, cy, 0.36 * w, lit[name])
        else:
            _circle(img, u, cy, 0.36 * w, dim[name])
    return u - w / 2, v_top, u + w / 2, v_top + h


def _draw_pedestrian(img: np.ndarray, u: float, v_bottom: float, scale: float,
                     height_m: float, stride_phase: float, direction: float,
                     colours: Tuple[Colour, Colour, Colour]) -> Box:
    shirt, trousers, skin = colours
    h = height_m * scale
    limb = max(1.0, 0.11 * scale)
    swing = math.sin(stride_phase)
    hip = (u, v_bottom - 0.5 * h)
    shoulder = (u + direction * 0.02 * h, v_bottom - 0.8 * h)
    step = 0.17 * h * swing
    feet = ((u + step, v_bottom), (u - step, v_bottom))
    for foot in feet:
        _line(img, hip[0], hip[1], foot[0], foot[1] - 0.5 * limb, trousers, limb * 1.15)
    torso_w = 0.2 * h
    _poly(img, ((shoulder[0] - torso_w / 2, shoulder[1]),
                (shoulder[0] + torso_w / 2, shoulder[1]),
                (hip[0] + 0.42 * torso_w, hip[1] + 0.03 * h),
                (hip[0] - 0.42 * torso_w, hip[1] + 0.03 * h)), shirt)
    for sign in (1.0, -1.0):
        hand = (shoulder[0] - sign * 0.12 * h * swing, shoulder[1] + 0.3 * h)
        _line(img, shoulder[0], shoulder[1] + 0.02 * h, hand[0], hand[1], shirt, limb)
    head_r = 0.065 * h
    head = (shoulder[0] + direction * 0.01 * h, shoulder[1] - 0.02 * h - head_r)
    _circle(img, head[0], head[1], head_r, skin)
    half = max(torso_w / 2, abs(step) + limb / 2, 0.12 * h * abs(swing) + limb)
    return u - half, head[1] - head_r, u + half, v_bottom


class RoadSceneRenderer:
    """Render frames of one deterministic road scenario; `seed` picks the scenario."""

    VEHICLE_SLOTS = 4
    LIGHT_SLOTS = 1
    SIGN_SLOTS = 2
    PEDESTRIAN_SLOTS = 2

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0, *,
                 min_box_px: int = 6, max_occluded: float = 0.7) -> None:
        if width < 64 or height < 48:
            raise BadInputError(f'frame size {width}x{height} is too small',
                                'use at least 64x48 pixels')
        if seed < 0:
            raise BadInputError(f'seed {seed} is negative', 'use a seed >= 0')
        self.width = int(width)
        self.height = int(height)
        self.seed = int(seed)
        self.min_box_px = int(min_box_px)
        self.max_occluded = float(max_occluded)
        rng = np.random.default_rng((self.seed, 1000))
        self.lighting = str(rng.choice(list(_LIGHTINGS)))
        self.ego_speed_mps = float(rng.uniform(8.0, 14.0))
        self._sway_px = float(rng.uniform(0.0, 0.03) * width)
        self._sway_period_s = float(rng.uniform(6.0, 14.0))
        self._flicker_phase = float(rng.uniform(0, 2 * math.pi))
        self._focal_px = 0.9 * width
        self._horizon_y = float(rng.uniform(0.38, 0.46) * height)
        self._camera_height_m = float(rng.uniform(1.15, 1.45))
        self._road_colour = tuple(int(c) for c in rng.integers(72, 112) + rng.integers(-6, 7, 3))
        self._far = self._render_far_background(rng)
        gain, gamma, noise_factor = _LIGHTINGS[self.lighting]
        self._gain = np.asarray(gain) * rng.uniform(0.93, 1.07)
        self._gamma = gamma
        self._noise = self._make_noise(rng, float(rng.uniform(1.5, 4.0) * noise_factor))
        self._slots: List[_Slot] = []
        for kind, count, period in (('vehicle', self.VEHICLE_SLOTS, (5.0, 9.0)),
                                    ('traffic_light', self.LIGHT_SLOTS, (7.0, 11.0)),
                                    ('traffic_sign', self.SIGN_SLOTS, (5.0, 9.0)),
                                    ('pedestrian', self.PEDESTRIAN_SLOTS, (5.0, 10.0))):
            for index in range(count):
                period_s = float(rng.uniform(*period))
                self._slots.append(_Slot(self.seed, kind, index, period_s,
                                         float(rng.uniform(0, period_s))))
        self._light_phase_s = float(rng.uniform(0, 10))

    # -- static parts ---------------------------------------------------------------------

    def _render_far_background(self, rng: np.random.Generator) -> np.ndarray:
        """Sky, skyline and fields, wider than the frame so the camera can sway."""
        margin = int(math.ceil(self._sway_px)) + 2
        width, height = self.width + 2 * margin, self.height
        horizon = int(round(self._horizon_y))
        far = np.empty((height, width, 3), np.uint8)
        top = np.array(rng.choice([(70, 120, 200), (110, 150, 205), (150, 160, 175),
                                   (90, 110, 170)]), np.float64)
        low = np.array((200, 210, 220), np.float64) * rng.uniform(0.85, 1.0)
        ramp = np.linspace(0.0, 1.0, horizon)[:, None]
        far[:horizon] = (top * (1 - ramp) + low * ramp).astype(np.uint8)[:, None, :]
        ground = np.array(rng.choice([(80, 110, 60), (110, 120, 70), (120, 110, 90)]),
                          np.float64)
        ramp = np.linspace(0.75, 1.1, height - horizon)[:, None]
        far[horizon:] = np.clip(ground * ramp, 0, 255).astype(np.uint8)[:, None, :]
        x = 0.0
        while x < width:  # skyline: buildings and trees
            if rng.random() < 0.55:
                w = rng.uniform(0.04, 0.12) * self.width
                h = rng.uniform(0.03, 0.16) * self.height
                grey = int(rng.integers(90, 170))
                colour = tuple(int(grey + d) for d in rng.integers(-12, 13, 3))
                _rect(far, x, horizon - h, x + w, horizon + 1, colour)
                for wy in np.arange(horizon - h + 4, horizon - 4, 7):
                    for wx in np.arange(x + 3, x + w - 4, 7):
                        if rng.random() < 0.5:
                            _rect(far, wx, wy, wx + 3, wy + 3, (min(255, grey + 50),) * 3)
                x += w + rng.uniform(0, 0.02) * self.width
            else:
                r = rng.uniform(0.012, 0.035) * self.width
                trunk_h = r * 0.8
                green = (int(rng.integers(30, 70)), int(rng.integers(70, 120)),
                         int(rng.integers(30, 60)))
                _rect(far, x + r - r * 0.12, horizon - trunk_h, x + r + r * 0.12, horizon + 1,
                      (80, 60, 40))
                _circle(far, x + r, horizon - trunk_h - r * 0.8, r, green)
                x += 2 * r + rng.uniform(0, 0.02) * self.width
        return far

    def _make_noise(self, rng: np.random.Generator,
                    sigma: float) -> Tuple[np.ndarray, np.ndarray]:
        """Two uint8 noise fields (positive, negative parts), a margin larger than a frame."""
        shape = (self.height + 16, self.width + 16, 3)
        noise = rng.normal(0.0, sigma, shape).astype(np.float32)
        return (np.clip(noise, 0, 255).astype(np.uint8),
                np.clip(-noise, 0, 255).astype(np.uint8))

    # -- object slots ---------------------------------------------------------------------

    def _vehicle_cycle(self, rng: np.random.Generator, slot: _Slot) -> _Cycle:
        pattern = [0, 1, 2, 3][slot.index] if slot.index < 3 else int(rng.integers(0, 5))
        if pattern == 3:
            pattern = int(rng.integers(3, 5))
        lane = 3.5
        # (x0, x1, change_at, z0, z1, facing_front)
        paths = {
            0: (-lane, -lane, 2.0, 70.0, 3.0, True),      # oncoming
            1: (lane, lane, 2.0, 60.0, 3.0, False),       # we overtake it
            2: (0.0, lane, 0.62, 60.0, 3.5, False),       # we catch up, it moves right
            3: (lane, lane, 2.0, 3.2, 60.0, False),       # it overtakes us
            4: (lane, 0.0, 0.15, 4.0, 60.0, False),       # it overtakes and cuts in
        }
        x0, x1, change_at, z0, z1, facing_front = paths[pattern]
        jitter = float(rng.uniform(-0.3, 0.3))
        colour = _VEHICLE_COLOURS[int(rng.integers(len(_VEHICLE_COLOURS)))]
        colour = tuple(int(np.clip(c + rng.integers(-14, 15), 0, 255)) for c in colour)
        kind = int(rng.choice(4, p=(0.5, 0.25, 0.15, 0.1)))
        return _Cycle(present=bool(rng.random() < 0.85),
                      active_fraction=float(rng.uniform(0.75, 1.0)),
                      x0_m=x0 + jitter, x1_m=x1 + jitter, change_at=change_at,
                      z0_m=z0, z1_m=z1, style=kind, colour=colour,
                      facing_front=facing_front, height_m=0.0, size_m=0.0, phase=0.0)

    def _roadside_cycle(self, rng: np.random.Generator, slot: _Slot) -> _Cycle:
        side = 1.0 if rng.random() < 0.75 else -1.0
        x = side * float(rng.uniform(5.8, 6.8))
        z0 = float(rng.uniform(30.0, 50.0))
        if slot.kind == 'traffic_light':
            style, height, size = 0, float(rng.uniform(2.3, 3.0)), 1.0
        elif slot.kind == 'traffic_sign':
            style = int(rng.integers(len(SIGN_CLASSES)))
            height, size = float(rng.uniform(1.9, 2.5)), float(rng.uniform(0.32, 0.42))
        else:
            style = int(rng.integers(1 << 16))
            x = side * float(rng.uniform(6.2, 8.2))
            height, size = float(rng.uniform(1.55, 1.9)), 0.0
        return _Cycle(present=bool(rng.random() < 0.85),
                      active_fraction=float(rng.uniform(0.8, 1.0)),
                      x0_m=x, x1_m=x, change_at=2.0, z0_m=z0, z1_m=3.0, style=style,
                      colour=(0, 0, 0), facing_front=bool(rng.random() < 0.5),
                      height_m=height, size_m=size, phase=float(rng.uniform(0, 2 * math.pi)))

    def _place(self, slot: _Slot, time_s: float) -> Optional[_Placed]:
        make = self._vehicle_cycle if slot.kind == 'vehicle' else self._roadside_cycle
        cycle, local_s = slot.at(time_s, make)
        if not cycle.present:
            return None
        active_s = cycle.active_fraction * slot.period_s
        if local_s >= active_s:
            return None
        if slot.kind == 'vehicle':
            progress = local_s / active_s
            z = cycle.z0_m + (cycle.z1_m - cycle.z0_m) * progress
            change = _smoothstep((progress - cycle.change_at) / 0.2)
            x = cycle.x0_m + (cycle.x1_m - cycle.x0_m) * change
        else:
            # roadside things stand still (lights, signs) or walk (people); we drive by
            walk = 0.0
            if slot.kind == 'pedestrian':
                walk = 1.3 if cycle.facing_front else -1.3
            z = cycle.z0_m - (self.ego_speed_mps + walk) * local_s
            if z < cycle.z1_m:
                return None
            x = cycle.x0_m
        state = ''
        if slot.kind == 'traffic_light':
            state = self._light_state(time_s + slot.index * 3.7)
        return _Placed(slot.kind, z, cycle, x, local_s, state)

    def _light_state(self, time_s: float) -> str:
        """Return the traffic light state: green 4 s, amber 1 s, red 3 s."""
        phase = (time_s + self._light_phase_s) % 8.0
        return 'green' if phase < 4.0 else 'amber' if phase < 5.0 else 'red'

    # -- rendering ------------------------------------------------------------------------

    def _view_at(self, time_s: float) -> _View:
        """Return the camera at `time_s` (it sways a little from side to side)."""
        sway = self._sway_px * math.sin(2 * math.pi * time_s / self._sway_period_s)
        return _View(self.width, self.height, self._focal_px, self._horizon_y,
                     self._camera_height_m, self.width / 2 + sway)

    def render(self, frame_index: int, time_s: float) -> Tuple[np.ndarray, List[SceneObject]]:
        """Render the frame at `time_s`; return (RGB uint8 HxWx3, labelled objects).

        The scene depends on `time_s`; `frame_index` picks the sensor noise pattern.
        """
        if not (time_s >= 0.0 and math.isfinite(time_s)):
            raise BadInputError(f'scene time {time_s} s is not a finite time >= 0',
                                'render times from 0 s on')
        view = self._view_at(time_s)
        margin = (self._far.shape[1] - self.width) // 2
        offset = int(round(margin + view.center_x - self.width / 2))
        offset = min(max(offset, 0), self._far.shape[1] - self.width)
        img = np.ascontiguousarray(self._far[:, offset:offset + self.width])
        self._draw_road(img, view, time_s)
        placed = [p for p in (self._place(slot, time_s) for slot in self._slots)
                  if p is not None]
        placed.sort(key=lambda p: -p.z_m)
        drawn = [(p, self._draw(img, view, p, time_s)) for p in placed]
        objects = self._visible_objects(drawn)
        self._apply_lighting_and_noise(img, frame_index, time_s)
        return img, objects

    def _draw_road(self, img: np.ndarray, view: _View, time_s: float) -> None:
        z_far, z_near = 400.0, 0.8

        def strip(x0: float, x1: float, z0: float = z_near, z1: float = z_far):
            return ((view.u(x0, z1), view.v(z1)), (view.u(x1, z1), view.v(z1)),
                    (view.u(x1, z0), view.v(z0)), (view.u(x0, z0), view.v(z0)))

        pavement = (150, 148, 142)
        kerb = (200, 198, 190)
        cv2.fillPoly(img, [_fixed(strip(-9.5, -5.45)), _fixed(strip(5.45, 9.5))], pavement,
                     cv2.LINE_8, _SHIFT)
        cv2.fillPoly(img, [_fixed(strip(-5.6, -5.3)), _fixed(strip(5.3, 5.6))], kerb,
                     cv2.LINE_8, _SHIFT)
        cv2.fillPoly(img, [_fixed(strip(-5.3, 5.3))], self._road_colour, cv2.LINE_AA, _SHIFT)
        half = 0.07
        white = [_fixed(strip(x - half, x + half, z_near, 150.0)) for x in (-5.05, 5.05)]
        yellow = [_fixed(strip(x - half, x + half, z_near, 150.0)) for x in (-1.85, -1.6)]
        travelled = self.ego_speed_mps * time_s
        period, dash = 9.0, 3.0
        first = math.floor((z_near + travelled) / period)
        for k in range(first, first + int(100 / period) + 2):
            z0 = k * period - travelled
            z1 = z0 + dash
            if z1 <= z_near:
                continue
            white.append(_fixed(strip(1.75 - half, 1.75 + half, max(z0, z_near), z1)))
        cv2.fillPoly(img, white, (226, 226, 220), cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(img, yellow, (214, 176, 40), cv2.LINE_AA, _SHIFT)

    def _draw(self, img: np.ndarray, view: _View, placed: _Placed,
              time_s: float) -> Box:
        cycle, z = placed.cycle, placed.z_m
        scale = view.scale(z)
        u = view.u(placed.x_m, z)
        ground = view.v(z)
        if placed.kind == 'vehicle':
            return _draw_vehicle(img, u, ground, scale, cycle.style, cycle.colour,
                                 cycle.facing_front)
        if placed.kind == 'traffic_light':
            top = view.v(z, cycle.height_m + 0.95)
            return _draw_traffic_light(img, u, top, ground, scale, placed.light_state)
        if placed.kind == 'traffic_sign':
            radius = cycle.size_m * scale
            centre = view.v(z, cycle.height_m)
            _line(img, u, centre + radius, u, ground, _POLE, max(1.0, 0.07 * scale))
            return draw_sign(img, SIGN_CLASSES[cycle.style], u, centre, radius)
        style = cycle.style
        colours = (_SHIRT_COLOURS[style % len(_SHIRT_COLOURS)],
                   _TROUSER_COLOURS[(style // 16) % len(_TROUSER_COLOURS)],
                   _SKIN_COLOURS[(style // 256) % len(_SKIN_COLOURS)])
        stride = cycle.phase + 2 * math.pi * 0.9 * placed.local_s
        direction = 1.0 if cycle.facing_front else -1.0
        return _draw_pedestrian(img, u, ground, scale, cycle.height_m, stride, direction,
                                colours)

    def _visible_objects(self, drawn) -> List[SceneObject]:
        """Clip boxes to the frame; drop tiny, mostly-outside and mostly-hidden objects."""
        cell = 8
        covered = np.zeros((self.height // cell + 1, self.width // cell + 1), bool)
        kept = []
        for placed, box in reversed(drawn):  # near to far
            x0, y0, x1, y1 = box
            full_area = max(1e-6, (x1 - x0) * (y1 - y0))
            cx0, cy0 = max(0.0, x0), max(0.0, y0)
            cx1, cy1 = min(float(self.width), x1), min(float(self.height), y1)
            if cx1 - cx0 < self.min_box_px or cy1 - cy0 < self.min_box_px:
                continue
            if (cx1 - cx0) * (cy1 - cy0) < 0.4 * full_area:
                continue
            ix0, iy0 = int(math.floor(cx0)), int(math.floor(cy0))
            ix1, iy1 = int(math.ceil(cx1)), int(math.ceil(cy1))
            cells = covered[iy0 // cell:(iy1 - 1) // cell + 1, ix0 // cell:(ix1 - 1) // cell + 1]
            hidden = float(cells.mean()) if cells.size else 0.0
            if placed.kind == 'vehicle':
                cells[...] = True
            if hidden > self.max_occluded:
                continue
            sign_class = SIGN_CLASSES[placed.cycle.style] if placed.kind == 'traffic_sign' \
                else ''
            kept.append(SceneObject(placed.kind, (ix0, iy0, ix1, iy1), sign_class,
                                    placed.light_state))
        kept.reverse()  # far to near, the drawing order
        return kept

    def _apply_lighting_and_noise(self, img: np.ndarray, frame_index: int,
                                  time_s: float) -> None:
        flicker = 1.0 + 0.05 * math.sin(2 * math.pi * time_s / 7.3 + self._flicker_phase) \
            + 0.02 * math.sin(2 * math.pi * time_s / 1.9)
        levels = np.arange(256, dtype=np.float64)[:, None] / 255.0
        lut = 255.0 * np.power(levels, self._gamma) * (self._gain * flicker)[None, :]
        lut = np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(1, 256, 3)
        cv2.LUT(img, lut, dst=img)
        positive, negative = self._noise
        mix = (frame_index * 2654435761 + self.seed * 40503) & 0xFFFFFFFF
        dy, dx = mix % 16, (mix >> 8) % 16
        ey, ex = (mix >> 16) % 16, (mix >> 24) % 16
        cv2.add(img, positive[dy:dy + self.height, dx:dx + self.width], dst=img)
        cv2.subtract(img, negative[ey:ey + self.height, ex:ex + self.width], dst=img)


def render_sign_patch(sign_class: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Render one sign of `sign_class` on clutter; return an RGB uint8 (size, size, 3) patch.

    Varies what a detector crop varies: background, position and scale in the crop, a small
    rotation, brightness and contrast, blur and noise. Drawn at 4x and reduced with area
    averaging, as a camera integrates light.
    """
    if sign_class not in SIGN_CLASSES:
        raise BadInputError(f"unknown sign class '{sign_class}'",
                            f'use one of: {", ".join(SIGN_CLASSES)}')
    if size < 8:
        raise BadInputError(f'sign patch size {size} is too small', 'use a size of 8 or more')
    big = size * 4
    base = rng.integers(40, 220, 3).astype(np.float64)
    other = np.clip(base + rng.integers(-60, 61, 3), 0, 255)
    ramp = np.linspace(0.0, 1.0, big)[:, None, None]
    patch = (base * (1 - ramp) + other * ramp).astype(np.uint8)
    patch = np.ascontiguousarray(np.broadcast_to(patch, (big, big, 3)))
    for _ in range(int(rng.integers(0, 5))):  # clutter
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * big
        w, h = rng.uniform(0.1, 0.6, 2) * big
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            _rect(patch, x0, y0, x0 + w, y0 + h, colour)
        else:
            _circle(patch, x0, y0, w / 2, colour)
    radius = rng.uniform(0.3, 0.45) * big
    cx = big / 2 + rng.uniform(-0.08, 0.08) * big
    cy = big / 2 + rng.uniform(-0.08, 0.08) * big
    if rng.random() < 0.6:
        _line(patch, cx, cy + radius, cx, big, _POLE, max(1.0, 0.1 * radius))
    draw_sign(patch, sign_class, cx, cy, radius)
    angle = float(rng.uniform(-10, 10))
    matrix = cv2.getRotationMatrix2D((big / 2, big / 2), angle, 1.0)
    matrix[:, :2] = matrix[:, :2] @ np.array([[rng.uniform(0.85, 1.0), 0.0], [0.0, 1.0]])
    patch = cv2.warpAffine(patch, matrix, (big, big), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    sigma = float(rng.uniform(0.0, 2.5))
    if sigma > 0.3:
        patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    gain = rng.uniform(0.55, 1.3) * rng.uniform(0.9, 1.1, 3)
    patch = patch * gain + rng.uniform(-20, 20) + rng.normal(0, rng.uniform(0, 6), patch.shape)
    return np.clip(patch + 0.5, 0, 255).astype(np.uint8)
