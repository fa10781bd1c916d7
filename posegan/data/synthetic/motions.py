"""Pose distributions and motions over the joint angles of `body.py`.

- Lab (Human3.6M stand-in): the 15 Human3.6M actions. Each (subject, action) is one long
  sequence: the root walks a circle (Walking, WalkingDog, WalkTogether) or drifts between
  random spots of the capture area, and the joint angles move smoothly between keyframes
  drawn from the action's own distribution (hands to the mouth for Eating and Smoking, a
  phone at the ear, a camera in front of the face, pointing for Directions, ...), with a
  walking gait under the upper-body keyframes where the action walks. Poses are upright
  and everyday, like the lab's.
- Wild (MPII stand-in): a broader mixture - sports (running, kicks, throws, swings, jumps),
  exercise (squats, lunges, push-ups, stretches), crouching, kneeling, reaching, bending,
  lying, crawling, sitting on chairs and floors, handstands and a share of uniformly random
  joint angles within the anatomical limits.
- Cross-domain 3D test (MPI-INF-3DHP stand-in): the wild generators grouped into the 7
  activity classes of MPI-INF-3DHP's test set.

Every generator returns a `PoseSpec`; joint limits are enforced by `body.clamp_angles` and
self-penetrating poses are redrawn by the caller (`sample_valid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posegan.data.synthetic.body import NUM_ANGLES, A, ANGLE_LOWER, ANGLE_UPPER, BodyProportions, clamp_angles
from posegan.data.synthetic.body import forward_kinematics, penetrates

LAB_ACTIONS: list[str] = [
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases", "Sitting",
    "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog", "WalkTogether",
]
ACTIVITY_NAMES: list[str] = [
    "Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching", "On the floor", "Sports", "Miscellaneous",
]


@dataclass
class PoseSpec:
    """A pose to render: joint angles (NUM_ANGLES,) degrees, whether it sits on a chair, and
    how far (mm) the lowest point floats above the floor (jumps, running flight)."""

    angles: np.ndarray
    seated: bool = False
    airborne: float = 0.0


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _set(v: np.ndarray, **angles) -> np.ndarray:
    for name, value in angles.items():
        v[A[name]] = value
    return v


def _arm(v, side, rng, plane, elev, rot, elbow):
    """Set one arm from (low, high) ranges."""
    return _set(v, **{side + "sh_plane": _u(rng, *plane), side + "sh_elev": _u(rng, *elev),
                      side + "sh_rot": _u(rng, *rot), side + "elbow": _u(rng, *elbow)})


def _leg(v, side, rng, flex, abd, rot, knee):
    return _set(v, **{side + "hip_flex": _u(rng, *flex), side + "hip_abd": _u(rng, *abd),
                      side + "hip_rot": _u(rng, *rot), side + "knee": _u(rng, *knee)})


def _sides(rng):
    """('r_', 'l_') or ('l_', 'r_'): which hand or leg leads."""
    return ("r_", "l_") if rng.random() < 0.5 else ("l_", "r_")


# ----------------------------------------------------------------------------- arm and leg postures

ARM_POSTURES = {  # name: (plane, elevation, axial rotation, elbow) ranges in degrees
    "down": ((-10, 30), (4, 16), (0, 30), (5, 25)),
    "hand_to_face": ((75, 105), (35, 55), (15, 40), (130, 145)),
    "phone_at_ear": ((20, 50), (45, 65), (5, 30), (140, 150)),
    "on_hip": ((-15, 5), (35, 50), (70, 90), (95, 115)),
    "crossed": ((55, 75), (20, 30), (75, 90), (100, 115)),
    "behind_back": ((-80, -50), (15, 30), (60, 90), (80, 100)),
    "pointing": ((30, 100), (65, 100), (-10, 20), (0, 15)),
    "gesture": ((40, 100), (15, 50), (0, 40), (50, 100)),
    "camera": ((95, 115), (55, 75), (30, 50), (115, 130)),
    "holding_low": ((60, 100), (10, 30), (20, 50), (60, 90)),
    "reach_forward": ((60, 100), (45, 80), (-10, 20), (5, 35)),
    "wave": ((0, 40), (75, 110), (-40, -10), (70, 110)),
    "overhead": ((20, 120), (150, 178), (-20, 20), (0, 25)),
    "sideways": ((-10, 20), (70, 100), (-20, 20), (0, 30)),
    "on_thigh": ((80, 95), (25, 40), (10, 30), (40, 70)),
    "on_table": ((80, 100), (30, 50), (20, 40), (80, 100)),
}


def arm_posture(v, side, rng, name):
    return _arm(v, side, rng, *ARM_POSTURES[name])


def standing(rng) -> np.ndarray:
    """A relaxed upright stance with small natural variation."""
    v = np.zeros(NUM_ANGLES)
    _set(v, spine_flex=_u(rng, -3, 8), spine_lat=_u(rng, -3, 3), spine_twist=_u(rng, -6, 6),
         neck_flex=_u(rng, 4, 14), neck_lat=_u(rng, -4, 4), head_flex=_u(rng, -15, 5), head_lat=_u(rng, -6, 6))
    for side in ("r_", "l_"):
        arm_posture(v, side, rng, "down")
        _leg(v, side, rng, (-3, 6), (1, 7), (-15, 0), (0, 8))
    # Weight on one leg now and then.
    if rng.random() < 0.4:
        side = "r_" if rng.random() < 0.5 else "l_"
        _set(v, **{side + "knee": _u(rng, 10, 25), side + "hip_flex": _u(rng, 5, 15)})
        v[A["root_roll"]] = _u(rng, -4, 4)
    return v


# ----------------------------------------------------------------------------- gaits

def _bump(phase, centre, width):
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-d * d / (2 * width * width))


def gait(v: np.ndarray, phase: float, *, stride: float = 1.0, run: bool = False, swing_arms: bool = True):
    """Overlay a walking (or running) cycle at `phase` (0..1, right heel strike at 0) on angles v."""
    for side, offset in (("r_", 0.0), ("l_", 0.5)):
        p = (phase + offset) % 1.0
        if run:
            hip = 25 + 40 * stride * np.cos(2 * np.pi * p)
            knee = 25 + 95 * stride * _bump(p, 0.7, 0.14) + 15 * _bump(p, 0.1, 0.08)
        else:
            hip = 8 + 20 * stride * np.cos(2 * np.pi * p)
            knee = 5 + 12 * _bump(p, 0.12, 0.08) + 55 * stride * _bump(p, 0.72, 0.11)
        _set(v, **{side + "hip_flex": hip, side + "knee": knee, side + "hip_abd": 3.0})
        if swing_arms:
            # Sagittal swing (forwards +) with a little abduction, as plane of elevation + elevation,
            # which keeps the arm's motion continuous through the vertical.
            swing = -(40 if run else 18) * stride * np.cos(2 * np.pi * p)
            _set(v, **{side + "sh_plane": np.degrees(np.arctan2(swing, 6.0)), side + "sh_elev": np.hypot(swing, 6.0),
                       side + "sh_rot": 10.0, side + "elbow": (90.0 if run else 15.0) + max(swing, 0) * 0.5})
    v[A["spine_twist"]] += 5 * stride * np.cos(2 * np.pi * phase)
    if run:
        v[A["spine_flex"]] += 12
    return v


# ----------------------------------------------------------------------------- lab actions

def _lab_keyframe(action: str, rng) -> PoseSpec:
    """One keyframe of an action's distribution (the upper body for walking actions)."""
    v = standing(rng)
    first, second = _sides(rng)
    seated = False
    if action == "Directions":
        if rng.random() < 0.6:
            arm_posture(v, first, rng, "pointing")
        if rng.random() < 0.3:
            arm_posture(v, second, rng, "gesture")
        v[A["neck_lat"]] = _u(rng, -20, 20)
    elif action == "Discussion":
        arm_posture(v, first, rng, "gesture")
        arm_posture(v, second, rng, ["gesture", "down", "on_hip", "crossed"][int(rng.integers(4))])
        if rng.random() < 0.3:
            arm_posture(v, "r_", rng, "crossed")
            arm_posture(v, "l_", rng, "crossed")
    elif action in ("Eating", "Sitting"):
        seated = True
        for side in ("r_", "l_"):
            _leg(v, side, rng, (75, 100), (4, 16), (-10, 10), (70, 110))
        if rng.random() < 0.3:  # legs crossed at the ankles or stretched
            for side in ("r_", "l_"):
                _set(v, **{side + "knee": _u(rng, 20, 60)})
        v[A["spine_flex"]] = _u(rng, -5, 25)
        if action == "Eating":
            arm_posture(v, first, rng, ["hand_to_face", "on_table"][int(rng.random() < 0.4)])
            arm_posture(v, second, rng, "on_table")
        else:
            arm_posture(v, first, rng, ["on_thigh", "gesture", "crossed", "down"][int(rng.integers(4))])
            arm_posture(v, second, rng, ["on_thigh", "down"][int(rng.integers(2))])
    elif action == "Greeting":
        arm_posture(v, first, rng, ["wave", "reach_forward"][int(rng.integers(2))])
        if rng.random() < 0.3:
            arm_posture(v, second, rng, "reach_forward")
        v[A["spine_flex"]] = _u(rng, 0, 25)
    elif action == "Phoning":
        arm_posture(v, first, rng, "phone_at_ear")
        arm_posture(v, second, rng, ["down", "gesture", "on_hip"][int(rng.integers(3))])
        v[A["head_lat"]] = _u(rng, -15, 5) * (1 if first == "r_" else -1)
    elif action == "Posing":
        for side in ("r_", "l_"):
            arm_posture(v, side, rng, ["overhead", "on_hip", "sideways", "pointing", "crossed"][int(rng.integers(5))])
        _leg(v, first, rng, (-10, 40), (0, 25), (-20, 10), (0, 40))
        v[A["spine_lat"]] = _u(rng, -15, 15)
        v[A["spine_flex"]] = _u(rng, -15, 15)
    elif action == "Purchases":
        v[A["spine_flex"]] = _u(rng, 10, 55)
        arm_posture(v, first, rng, "reach_forward")
        arm_posture(v, second, rng, ["holding_low", "down"][int(rng.integers(2))])
        for side in ("r_", "l_"):
            _leg(v, side, rng, (5, 25), (2, 10), (-10, 5), (5, 30))
    elif action == "SittingDown":
        kind = rng.integers(3)
        if kind == 0:  # sitting on the floor, leaning back on the hands
            for side in ("r_", "l_"):
                _leg(v, side, rng, (65, 95), (5, 25), (-20, 5), (10, 120))
                arm_posture(v, side, rng, "behind_back")
                v[A[side + "sh_elev"]] = _u(rng, 25, 45)
                v[A[side + "elbow"]] = _u(rng, 0, 20)
            v[A["spine_flex"]] = _u(rng, -20, 10)
        elif kind == 1:  # lowering down: a deep squat or a kneel
            for side in ("r_", "l_"):
                _leg(v, side, rng, (70, 120), (5, 25), (-15, 5), (80, 140))
                arm_posture(v, side, rng, ["reach_forward", "on_thigh", "holding_low"][int(rng.integers(3))])
            v[A["spine_flex"]] = _u(rng, 15, 50)
        else:  # lying on the back, knees up or flat
            v[A["root_pitch"]] = -90.0 + _u(rng, -5, 25)
            for side in ("r_", "l_"):
                _leg(v, side, rng, (0, 80), (0, 15), (-15, 5), (0, 110))
                arm_posture(v, side, rng, ["down", "sideways", "on_thigh"][int(rng.integers(3))])
    elif action == "Smoking":
        arm_posture(v, first, rng, ["hand_to_face", "holding_low"][int(rng.random() < 0.4)])
        arm_posture(v, second, rng, ["crossed", "down", "on_hip"][int(rng.integers(3))])
    elif action == "TakingPhoto":
        arm_posture(v, "r_", rng, "camera")
        arm_posture(v, "l_", rng, "camera")
        if rng.random() < 0.35:  # crouching for a low shot
            for side in ("r_", "l_"):
                _leg(v, side, rng, (50, 100), (5, 20), (-10, 5), (70, 120))
        v[A["spine_flex"]] = _u(rng, 0, 30)
        v[A["neck_flex"]] = _u(rng, 10, 25)
    elif action == "Waiting":
        for side in ("r_", "l_"):
            arm_posture(v, side, rng, ["down", "on_hip", "crossed", "behind_back"][int(rng.integers(4))])
        v[A["neck_lat"]] = _u(rng, -20, 20)
        v[A["head_flex"]] = _u(rng, -20, 15)
    elif action in ("Walking", "WalkTogether"):
        if action == "WalkTogether" and rng.random() < 0.5:
            arm_posture(v, first, rng, "gesture")
        v[A["neck_lat"]] = _u(rng, -10, 10) if action == "Walking" else _u(rng, -25, 25)
    elif action == "WalkingDog":
        arm_posture(v, first, rng, ["reach_forward", "holding_low"][int(rng.integers(2))])
        v[A[first + "sh_elev"]] = _u(rng, 15, 45)
        v[A["spine_flex"]] = _u(rng, 5, 30)
    else:
        raise ValueError(f"unknown Human3.6M action {action!r}; expected one of {LAB_ACTIONS}")
    return PoseSpec(v, seated=seated)


_WALKING = {"Walking": 1.0, "WalkingDog": 0.8, "WalkTogether": 0.85}
_WALKS_SOMETIMES = {"Directions": 0.35, "Discussion": 0.2, "Phoning": 0.4, "Smoking": 0.2, "Waiting": 0.15,
                    "Greeting": 0.35}


class LabMotion:
    """One (subject, action) sequence: smooth motion over joint angles and root position.

    seed: integers identifying the sequence; keyframes are drawn lazily, each from its own
    random stream, so any time can be evaluated on its own (and in any process).
    body: the subject, used to redraw keyframes that would self-penetrate.
    """

    KEY_SECONDS = 2.5

    def __init__(self, action: str, seed: tuple[int, ...], body: BodyProportions, area_radius: float):
        if action not in LAB_ACTIONS:
            raise ValueError(f"unknown Human3.6M action {action!r}; expected one of {LAB_ACTIONS}")
        self.action, self.seed, self.body, self.area_radius = action, tuple(seed), body, float(area_radius)
        rng = np.random.default_rng([*self.seed, 999])
        self.circle_radius = rng.uniform(0.65, 0.95) * area_radius
        self.direction = 1.0 if rng.random() < 0.5 else -1.0
        self.speed = rng.uniform(0.9, 1.3) * _WALKING.get(action, 0.7)  # m/s
        self.cadence = rng.uniform(0.85, 1.0)  # gait cycles per second
        self.phase0 = rng.uniform(0, 1)
        self.wobble_amplitude = rng.uniform(0.5, 2.5, (2, NUM_ANGLES))  # degrees
        self.wobble_frequency = rng.uniform(0.1, 0.6, (2, NUM_ANGLES))  # Hz
        self.wobble_phase = rng.uniform(0, 2 * np.pi, (2, NUM_ANGLES))
        self._keys: dict[int, tuple] = {}

    def _key(self, i: int):
        """Keyframe i: (PoseSpec, root position (x, z), yaw, walking?). A keyframe is redrawn
        (up to 10 times) until the in-between poses from keyframe i - 1 do not self-penetrate."""
        if i not in self._keys:
            previous = self._key(i - 1)[0] if i > 0 else None
            rng = np.random.default_rng([*self.seed, int(i)])
            for _ in range(10):
                spec, _ = sample_valid(lambda r: _lab_keyframe(self.action, r), rng, self.body)
                if previous is None or not any(
                        penetrates(forward_kinematics((1 - w) * previous.angles + w * spec.angles, self.body), self.body)
                        for w in (0.25, 0.5, 0.75)):
                    break
            position = rng.uniform(-1, 1, 2) * self.area_radius * 0.7
            yaw = rng.uniform(-180, 180)
            walking = rng.random() < _WALKS_SOMETIMES.get(self.action, 0.0)
            self._keys[i] = (spec, position, yaw, walking)
        return self._keys[i]

    def pose(self, seconds: float):
        """(PoseSpec with the world yaw in its angles, root position (x, z) in mm) at a time.

        Poses between keyframes are interpolated; if an in-between pose self-penetrates,
        the nearer keyframe's (valid) pose is used instead.
        """
        k = seconds / self.KEY_SECONDS
        i = int(np.floor(k))
        w = 0.5 - 0.5 * np.cos(np.pi * (k - i))  # smooth step
        (s0, p0, y0, walk0), (s1, p1, y1, walk1) = self._key(i), self._key(i + 1)
        near = s0 if w < 0.5 else s1
        if self.action in _WALKING:
            theta = self.direction * self.speed * 1000.0 * seconds / self.circle_radius
            position = self.circle_radius * np.array([np.cos(theta), np.sin(theta)])
            tangent = self.direction * np.array([-np.sin(theta), np.cos(theta)])
            yaw = np.rad2deg(np.arctan2(tangent[0], tangent[1]))
        else:
            position = (1 - w) * p0 + w * p1
            yaw = y0 + w * ((y1 - y0 + 180.0) % 360.0 - 180.0)
        phase = (self.phase0 + self.cadence * seconds) % 1.0
        # How much the legs walk: 1 on walking keyframes, blended in and out between them.
        if self.action in _WALKING:
            walk, stride = 1.0, self.speed / 1.1
        else:
            walk = (0.0 if s0.seated or not walk0 else 1 - w) + (0.0 if s1.seated or not walk1 else w)
            stride = 0.6

        def finish(angles, jitter):
            if walk > 0:
                walking = gait(angles.copy(), phase, stride=stride, swing_arms=self.action == "Walking")
                angles = (1 - walk) * angles + walk * walking
            angles[A["root_yaw"]] = yaw
            if jitter:  # slow, smooth idiosyncratic movement on top of the keyframes
                angles[3:] += (self.wobble_amplitude * np.sin(2 * np.pi * self.wobble_frequency * seconds
                                                              + self.wobble_phase)).sum(0)[3:]
            return clamp_angles(angles)

        # An in-between pose that self-penetrates is replaced by the closest valid blend towards
        # the nearer keyframe (a small jump in the motion, rare).
        target = 0.0 if w < 0.5 else 1.0
        for blend in np.linspace(w, target, 6):
            angles = finish((1 - blend) * s0.angles + blend * s1.angles, True)
            if not penetrates(forward_kinematics(angles, self.body), self.body):
                break
        else:
            angles = finish(near.angles.copy(), False)
            if penetrates(forward_kinematics(angles, self.body), self.body):
                angles = near.angles.copy()
                angles[A["root_yaw"]] = yaw
        return PoseSpec(angles, seated=near.seated), position


# ----------------------------------------------------------------------------- wild poses

def _random_angles(rng) -> np.ndarray:
    """Uniformly random joint angles within the limits (root upright, any yaw)."""
    v = rng.uniform(ANGLE_LOWER, ANGLE_UPPER)
    v[A["root_pitch"]] = _u(rng, -20, 20)
    v[A["root_roll"]] = _u(rng, -15, 15)
    for name in ("neck_flex", "neck_lat", "head_flex", "head_lat"):
        v[A[name]] *= 0.6
    return v


def _w_stand(rng):
    v = standing(rng)
    for side in ("r_", "l_"):
        if rng.random() < 0.6:
            arm_posture(v, side, rng, list(ARM_POSTURES)[int(rng.integers(len(ARM_POSTURES)))])
    return PoseSpec(v)


def _w_walk(rng):
    v = standing(rng)
    gait(v, _u(rng, 0, 1), stride=_u(rng, 0.7, 1.4))
    v[A["spine_flex"]] += _u(rng, -5, 15)
    return PoseSpec(v)


def _w_run(rng):
    v = standing(rng)
    gait(v, _u(rng, 0, 1), stride=_u(rng, 0.8, 1.2), run=True)
    return PoseSpec(v, airborne=_u(rng, 0, 120))


def _w_squat(rng):
    v = standing(rng)
    flex, knee = _u(rng, 70, 125), _u(rng, 80, 145)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (flex - 5, flex + 5), (10, 35), (-25, 0), (knee - 5, knee + 5))
        arm_posture(v, side, rng, ["reach_forward", "crossed", "on_thigh", "down"][int(rng.integers(4))])
    v[A["spine_flex"]] = _u(rng, 10, 50)
    return PoseSpec(v)


def _w_lunge(rng):
    v = standing(rng)
    front, back = _sides(rng)
    _leg(v, front, rng, (60, 95), (0, 15), (-15, 5), (70, 110))
    _leg(v, back, rng, (-25, -5), (0, 15), (-10, 10), (30, 100))
    for side in ("r_", "l_"):
        arm_posture(v, side, rng, ["on_hip", "overhead", "sideways", "down"][int(rng.integers(4))])
    return PoseSpec(v)


def _w_jumping_jack(rng):
    v = standing(rng)
    spread = _u(rng, 0, 1)
    for side in ("r_", "l_"):
        _set(v, **{side + "sh_plane": _u(rng, -10, 20), side + "sh_elev": 20 + 155 * spread, side + "elbow": _u(rng, 0, 25),
                   side + "hip_abd": 3 + 30 * spread, side + "knee": _u(rng, 0, 20)})
    return PoseSpec(v, airborne=_u(rng, 0, 150))


def _w_stretch(rng):
    v = standing(rng)
    first, second = _sides(rng)
    arm_posture(v, first, rng, "overhead")
    arm_posture(v, second, rng, ["on_hip", "down", "sideways"][int(rng.integers(3))])
    v[A["spine_lat"]] = _u(rng, 15, 35) * (1 if first == "r_" else -1)
    if rng.random() < 0.4:
        _leg(v, first, rng, (0, 10), (25, 50), (-20, 0), (0, 15))
    return PoseSpec(v)


def _w_pushup(rng):
    v = np.zeros(NUM_ANGLES)
    _set(v, root_pitch=_u(rng, 70, 88), neck_flex=_u(rng, -30, 0), spine_flex=_u(rng, -10, 10))
    elbow = _u(rng, 0, 100)
    for side in ("r_", "l_"):
        _set(v, **{side + "sh_plane": _u(rng, 70, 95), side + "sh_elev": _u(rng, 70, 95) - elbow * 0.3,
                   side + "sh_rot": _u(rng, 60, 90), side + "elbow": elbow})
        _leg(v, side, rng, (-5, 10), (0, 10), (-5, 5), (0, 10))
    return PoseSpec(v)


def _w_sit_chair(rng):
    v = standing(rng)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (70, 100), (5, 25), (-15, 10), (60, 120))
        arm_posture(v, side, rng, ["on_thigh", "gesture", "crossed", "down", "hand_to_face"][int(rng.integers(5))])
    v[A["spine_flex"]] = _u(rng, -10, 30)
    return PoseSpec(v, seated=True)


def _w_sit_floor(rng):
    v = standing(rng)
    kind = rng.integers(3)
    for side in ("r_", "l_"):
        if kind == 0:  # cross-legged
            _leg(v, side, rng, (60, 85), (40, 55), (-40, -25), (130, 150))
        elif kind == 1:  # knees up
            _leg(v, side, rng, (90, 125), (5, 20), (-10, 5), (100, 140))
        else:  # legs out
            _leg(v, side, rng, (70, 95), (5, 30), (-20, 5), (0, 25))
        arm_posture(v, side, rng, ["behind_back", "on_thigh", "down", "gesture"][int(rng.integers(4))])
    v[A["spine_flex"]] = _u(rng, -15, 30)
    return PoseSpec(v)


def _w_reach_up(rng):
    v = standing(rng)
    first, second = _sides(rng)
    arm_posture(v, first, rng, "overhead")
    arm_posture(v, second, rng, ["overhead", "down", "sideways", "reach_forward"][int(rng.integers(4))])
    v[A["spine_flex"]] = _u(rng, -20, 5)
    v[A["neck_flex"]] = _u(rng, -35, -10)
    return PoseSpec(v)


def _w_crouch(rng):
    v = standing(rng)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (100, 130), (15, 40), (-25, 0), (130, 150))
        arm_posture(v, side, rng, list(ARM_POSTURES)[int(rng.integers(len(ARM_POSTURES)))])
    v[A["spine_flex"]] = _u(rng, 20, 60)
    return PoseSpec(v)


def _w_bend(rng):
    v = standing(rng)
    v[A["spine_flex"]] = _u(rng, 50, 90)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (20, 70), (3, 20), (-10, 5), (0, 40))
        _arm(v, side, rng, (70, 110), (40, 95), (-10, 30), (0, 40))
    return PoseSpec(v)


def _w_kneel(rng):
    v = standing(rng)
    down, up = _sides(rng)
    _leg(v, down, rng, (-10, 20), (0, 10), (-10, 10), (85, 110))
    if rng.random() < 0.5:  # kneeling on one knee
        _leg(v, up, rng, (75, 100), (0, 15), (-10, 10), (80, 100))
    else:  # on both knees
        _leg(v, up, rng, (-10, 20), (0, 10), (-10, 10), (85, 110))
    for side in ("r_", "l_"):
        arm_posture(v, side, rng, ["down", "on_thigh", "gesture", "reach_forward"][int(rng.integers(4))])
    return PoseSpec(v)


def _w_lie(rng):
    v = standing(rng)
    kind = rng.integers(3)
    if kind == 0:
        v[A["root_pitch"]] = _u(rng, -95, -80)   # on the back
    elif kind == 1:
        v[A["root_pitch"]] = _u(rng, 80, 95)     # on the front
        v[A["neck_flex"]] = _u(rng, -40, -10)
    else:
        v[A["root_roll"]] = 90.0 * (1 if rng.random() < 0.5 else -1) + _u(rng, -10, 10)  # on the side
    for side in ("r_", "l_"):
        _leg(v, side, rng, (-10, 80), (0, 30), (-20, 20), (0, 120))
        arm_posture(v, side, rng, ["down", "overhead", "sideways", "on_thigh", "crossed"][int(rng.integers(5))])
    return PoseSpec(v)


def _w_crawl(rng):
    v = np.zeros(NUM_ANGLES)
    _set(v, root_pitch=_u(rng, 70, 90), neck_flex=_u(rng, -40, -10), spine_flex=_u(rng, -10, 15))
    for side in ("r_", "l_"):
        _leg(v, side, rng, (70, 110), (0, 15), (-10, 10), (80, 110))
        _arm(v, side, rng, (80, 100), (75, 100), (40, 70), (0, 20))
    return PoseSpec(v)


def _w_kick(rng):
    v = standing(rng)
    kick, stance = _sides(rng)
    _leg(v, kick, rng, (50, 125), (0, 45), (-20, 20), (0, 70))
    _leg(v, stance, rng, (0, 20), (0, 10), (-15, 5), (5, 30))
    for side in ("r_", "l_"):
        arm_posture(v, side, rng, ["sideways", "gesture", "down"][int(rng.integers(3))])
    v[A["spine_flex"]] = _u(rng, -25, 10)
    return PoseSpec(v)


def _w_throw(rng):
    v = standing(rng)
    throw, other = _sides(rng)
    _arm(v, throw, rng, (-40, 40), (100, 170), (-60, -20), (40, 120))
    arm_posture(v, other, rng, ["reach_forward", "sideways"][int(rng.integers(2))])
    v[A["spine_twist"]] = _u(rng, 15, 40) * (1 if throw == "r_" else -1)
    v[A["spine_flex"]] = _u(rng, -20, 10)
    _leg(v, other, rng, (20, 50), (0, 15), (-15, 5), (10, 40))
    return PoseSpec(v)


def _w_swing(rng):
    v = standing(rng)
    lead, _ = _sides(rng)
    for side in ("r_", "l_"):
        _arm(v, side, rng, (110, 145), (50, 95), (10, 50), (0, 40) if side == lead else (20, 70))
    v[A["spine_twist"]] = _u(rng, -40, 40)
    v[A["spine_flex"]] = _u(rng, 10, 35)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (10, 35), (8, 20), (-15, 5), (15, 40))
    return PoseSpec(v)


def _w_jump(rng):
    v = standing(rng)
    for side in ("r_", "l_"):
        _leg(v, side, rng, (20, 100), (5, 30), (-15, 10), (30, 130))
        arm_posture(v, side, rng, ["overhead", "sideways", "reach_forward"][int(rng.integers(3))])
    return PoseSpec(v, airborne=_u(rng, 150, 600))


def _w_handstand(rng):
    v = np.zeros(NUM_ANGLES)
    _set(v, root_pitch=_u(rng, 165, 195) if rng.random() < 0.5 else 0.0, spine_flex=_u(rng, -20, 10),
         neck_flex=_u(rng, -40, -10))
    if v[A["root_pitch"]] == 0.0:  # cartwheel: sideways upside down
        v[A["root_roll"]] = _u(rng, 120, 180)
    for side in ("r_", "l_"):
        _arm(v, side, rng, (-10, 60), (160, 180), (-10, 10), (0, 15))
        _leg(v, side, rng, (-10, 30), (0, 50), (-10, 10), (0, 60))
    return PoseSpec(v)


def _w_dance(rng):
    v = standing(rng)
    for side in ("r_", "l_"):
        arm_posture(v, side, rng, list(ARM_POSTURES)[int(rng.integers(len(ARM_POSTURES)))])
    lift, _ = _sides(rng)
    _leg(v, lift, rng, (-20, 90), (0, 45), (-30, 20), (0, 120))
    v[A["spine_lat"]] = _u(rng, -20, 20)
    v[A["spine_twist"]] = _u(rng, -30, 30)
    return PoseSpec(v)


def _w_climb(rng):
    v = standing(rng)
    up, down = _sides(rng)
    _leg(v, up, rng, (90, 125), (5, 25), (-10, 10), (90, 130))
    _leg(v, down, rng, (0, 20), (0, 10), (-10, 5), (0, 30))
    for side in ("r_", "l_"):
        _arm(v, side, rng, (40, 110), (110, 170), (-20, 20), (10, 60))
    return PoseSpec(v)


def _w_random(rng):
    return PoseSpec(_random_angles(rng))


# name -> (generator, activity class index, weight in the wild mixture)
WILD_GENERATORS = {
    "stand": (_w_stand, 0, 1.0), "walk": (_w_walk, 0, 1.0),
    "squat": (_w_squat, 1, 0.8), "lunge": (_w_lunge, 1, 0.6), "jumping_jack": (_w_jumping_jack, 1, 0.5),
    "stretch": (_w_stretch, 1, 0.5), "pushup": (_w_pushup, 1, 0.3),
    "sit_chair": (_w_sit_chair, 2, 0.8), "sit_floor": (_w_sit_floor, 2, 0.6),
    "reach_up": (_w_reach_up, 3, 0.6), "crouch": (_w_crouch, 3, 0.7), "bend": (_w_bend, 3, 0.6),
    "kneel": (_w_kneel, 3, 0.5),
    "lie": (_w_lie, 4, 0.6), "crawl": (_w_crawl, 4, 0.3),
    "run": (_w_run, 5, 1.0), "kick": (_w_kick, 5, 0.7), "throw": (_w_throw, 5, 0.6), "swing": (_w_swing, 5, 0.5),
    "jump": (_w_jump, 5, 0.5), "handstand": (_w_handstand, 5, 0.2),
    "dance": (_w_dance, 6, 0.6), "climb": (_w_climb, 6, 0.3), "random": (_w_random, 6, 0.8),
}
_WILD_NAMES = list(WILD_GENERATORS)
_WILD_WEIGHTS = np.array([WILD_GENERATORS[n][2] for n in _WILD_NAMES])


def wild_pose(rng, activity: int | None = None) -> tuple[PoseSpec, str]:
    """A pose from the wild mixture, or from one activity class (index into ACTIVITY_NAMES)."""
    names = _WILD_NAMES if activity is None else [n for n in _WILD_NAMES if WILD_GENERATORS[n][1] == activity]
    if not names:
        raise ValueError(f"activity index must be in 0..{len(ACTIVITY_NAMES) - 1}, got {activity}")
    weights = np.array([WILD_GENERATORS[n][2] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    spec = WILD_GENERATORS[name][0](rng)
    spec.angles[A["root_yaw"]] = _u(rng, -180, 180)
    # Natural jitter on top of the template.
    spec.angles[3:] += rng.normal(0, 3.0, NUM_ANGLES - 3)
    spec.angles = clamp_angles(spec.angles)
    return spec, name


def sample_valid(draw, rng, body: BodyProportions, tries: int = 30):
    """Call draw(rng) -> (PoseSpec, ...) until its pose does not self-penetrate.

    Returns the first valid draw's result and its joints (16, 3) in the root-rotated body
    frame (pelvis at the origin, world y up); after `tries` failures, returns the last draw
    with its arms lowered to the sides (always valid).
    """
    for _ in range(tries):
        result = draw(rng)
        spec = result[0] if isinstance(result, tuple) else result
        joints = forward_kinematics(spec.angles, body)
        if not penetrates(joints, body):
            return result, joints
    # Fall back to a neutral stance with the same root orientation (never self-penetrating).
    spec.angles[3:] = 0.0
    for side in ("r_", "l_"):
        _set(spec.angles, **{side + "sh_elev": 12.0, side + "elbow": 10.0, side + "hip_abd": 5.0})
    spec.seated = False
    return result, forward_kinematics(spec.angles, body)
