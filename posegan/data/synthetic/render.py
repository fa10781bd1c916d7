"""A small ray caster that renders a 16-joint pose as a body with volume.

`render_pose(joints_3d, camera, image_size)` renders any MPII-16 pose given in camera
millimetres (x right, y down, z forward) with any pinhole camera (fx, fy, cx, cy in
pixels). Every pixel's ray is intersected exactly with the body's primitives (capsules
for the limbs, neck, shoulders and feet; ellipsoids for the torso, hands and head), so the
depth buffer, the occlusion order and the Lambert + specular shading are exact.

The body's build is derived from the pose itself (its stature is estimated from the bone
lengths), so poses of other skeletons - for example real motion capture - render with
plausible thickness. Left and right limbs share the clothing colour, as in real photos.

Front and back views differ as clearly as they do on real people (`Appearance.front_cues`):
the head has hair over its whole back and top and a skin-coloured face oval at the front with
dark brows, eyes with light whites, a nose and a mouth; the shirt has a contrasting front panel
down the chest and belly and a V collar, its back is plain; the shoes have toe caps of a
contrasting colour at their front end. The front is the direction the chest (and the head)
faces. Every cue is mirror-symmetric about the body's sagittal plane: nothing distinguishes
the person's left from their right except through the facing. `front_cues=False` renders the
earlier, weaker look exactly (a small face, hair at the back, plain shirts and shoes).

Per-joint visibility: a joint is visible when the first surface its ray meets belongs to
the body parts around that joint (its "own" parts) and that surface is not much in front
of the joint (so a far hip hidden by the near side of the pelvis is not visible), and the
joint projects inside the image. Occluders passed in (boxes, capsules, ellipsoids) take
part in the depth test like body parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posegan.skeleton import JOINT_NAMES, NUM_JOINTS

J = {name: i for i, name in enumerate(JOINT_NAMES)}
_NEAR = 10.0  # mm; primitives closer than this to the camera plane use the whole image


# ----------------------------------------------------------------------------- primitives

@dataclass
class Capsule:
    """All points within `radius` mm of the segment a-b (camera mm)."""

    a: np.ndarray
    b: np.ndarray
    radius: float
    color: np.ndarray
    pattern: str | None = None
    color2: np.ndarray | None = None
    color3: np.ndarray | None = None

    def bounding_spheres(self):
        """Spheres whose convex hull contains the primitive (its projection's box is theirs)."""
        return [(self.a, self.radius), (self.b, self.radius)]

    def intersect(self, d: np.ndarray, dd: np.ndarray) -> np.ndarray:
        """Nearest t > 0 with t * d on the capsule (d: (M, 3), dd = |d|^2); inf where none.

        The capsule is the union of a finite cylinder and two end spheres, so its nearest
        hit is the nearest of theirs. All terms come from the dot products d.u, d.a, d.b.
        """
        a, b, r = self.a, self.b, self.radius
        axis = b - a
        length = float(np.linalg.norm(axis))
        u = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
        dots = d @ np.stack([u, a, b], axis=1)
        du, da, db = dots[:, 0], dots[:, 1], dots[:, 2]
        au = float(a @ u)
        with np.errstate(invalid="ignore", divide="ignore"):
            ha = da * da - dd * (a @ a - r * r)
            hb = db * db - dd * (b @ b - r * r)
            t = np.minimum(np.where(ha >= 0, (da - np.sqrt(ha)) / dd, np.inf),
                           np.where(hb >= 0, (db - np.sqrt(hb)) / dd, np.inf))
            qa = dd - du * du
            qb = au * du - da
            h = qb * qb - qa * (a @ a - au * au - r * r)
            tc = (-qb - np.sqrt(h)) / qa
            s = tc * du - au
            tc = np.where((h >= 0) & (qa > 1e-12) & (s >= 0) & (s <= length), tc, np.inf)
        t = np.minimum(t, tc)
        return np.where(t > 0, t, np.inf)

    def normal(self, p: np.ndarray) -> np.ndarray:
        axis = self.b - self.a
        s = np.clip(((p - self.a) @ axis) / max(axis @ axis, 1e-12), 0.0, 1.0)
        return p - (self.a + s[:, None] * axis)

    def local(self, p: np.ndarray) -> np.ndarray:
        """(M, 3): position along the axis (mm), and two perpendicular offsets (mm)."""
        axis = self.b - self.a
        u = axis / max(float(np.linalg.norm(axis)), 1e-9)
        v = np.cross(u, [0.0, 0.0, 1.0] if abs(u[2]) < 0.9 else [1.0, 0.0, 0.0])
        v /= np.linalg.norm(v)
        w = np.cross(u, v)
        q = p - self.a
        return np.stack([q @ u, q @ v, q @ w], axis=1)


@dataclass
class Ellipsoid:
    """An ellipsoid with centre (3,), axes (3, 3) as orthonormal columns and radii (3,) mm."""

    centre: np.ndarray
    axes: np.ndarray
    radii: np.ndarray
    color: np.ndarray
    pattern: str | None = None
    color2: np.ndarray | None = None
    color3: np.ndarray | None = None

    def __post_init__(self):
        self.radii = np.asarray(self.radii, dtype=np.float64)
        self._m = (self.axes / self.radii).T  # world -> unit-sphere coordinates

    def bounding_spheres(self):
        return [(self.centre, float(self.radii.max()))]

    def intersect(self, d: np.ndarray, dd: np.ndarray) -> np.ndarray:
        o = self._m @ (-self.centre)
        dl = d @ self._m.T
        qa = (dl * dl).sum(1)
        qb = dl @ o
        qc = o @ o - 1.0
        h = qb * qb - qa * qc
        with np.errstate(invalid="ignore"):
            t = (-qb - np.sqrt(h)) / qa
        return np.where((h >= 0) & (t > 0), t, np.inf)

    def normal(self, p: np.ndarray) -> np.ndarray:
        return ((p - self.centre) @ self._m.T) @ self._m

    def local(self, p: np.ndarray) -> np.ndarray:
        """(M, 3) coordinates on the unit sphere along the ellipsoid's axes."""
        return (p - self.centre) @ self._m.T


@dataclass
class Box:
    """An oriented box: centre (3,), axes (3, 3) as orthonormal columns, half extents (3,) mm."""

    centre: np.ndarray
    axes: np.ndarray
    half: np.ndarray
    color: np.ndarray
    pattern: str | None = None
    color2: np.ndarray | None = None
    color3: np.ndarray | None = None

    def bounding_spheres(self):
        return [(self.centre, float(np.linalg.norm(self.half)))]

    def intersect(self, d: np.ndarray, dd: np.ndarray) -> np.ndarray:
        o = self.axes.T @ (-self.centre)
        dl = d @ self.axes
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dl
            t1 = (-self.half - o) * inv
            t2 = (self.half - o) * inv
        tmin = np.nanmax(np.minimum(t1, t2), axis=1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=1)
        return np.where((tmax >= tmin) & (tmin > 0), tmin, np.inf)

    def normal(self, p: np.ndarray) -> np.ndarray:
        q = ((p - self.centre) @ self.axes) / self.half
        k = np.abs(q).argmax(1)
        n = np.zeros_like(q)
        n[np.arange(len(q)), k] = np.sign(q[np.arange(len(q)), k])
        return n @ self.axes.T

    def local(self, p: np.ndarray) -> np.ndarray:
        return (p - self.centre) @ self.axes


# ----------------------------------------------------------------------------- appearance

@dataclass(frozen=True)
class Appearance:
    """Colours (RGB in 0..1) and build of a rendered person; left and right always match."""

    skin: tuple = (0.85, 0.66, 0.53)
    hair: tuple = (0.20, 0.14, 0.10)
    shirt: tuple = (0.25, 0.35, 0.60)
    trousers: tuple = (0.20, 0.20, 0.25)
    shoes: tuple = (0.10, 0.10, 0.10)
    long_sleeves: bool = True
    long_trousers: bool = True
    girth: float = 1.0
    shirt_front: tuple = (0.90, 0.88, 0.82)  # the front panel of the shirt (chest and belly)
    toe_caps: tuple = (0.92, 0.92, 0.90)     # the front ends of the shoes
    front_cues: bool = True                  # False: the earlier look (plain shirt and shoes, small face)


_SKIN_TONES = np.array([
    [0.96, 0.80, 0.69], [0.92, 0.72, 0.58], [0.85, 0.64, 0.50], [0.76, 0.55, 0.40],
    [0.62, 0.43, 0.30], [0.48, 0.32, 0.22], [0.36, 0.24, 0.17],
])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.20, 0.13, 0.08], [0.40, 0.27, 0.15], [0.75, 0.60, 0.35],
                  [0.55, 0.55, 0.55], [0.45, 0.18, 0.08]])


def _cloth_color(rng: np.random.Generator) -> tuple:
    """A plausible clothing colour: mostly muted, sometimes saturated."""
    hue = rng.uniform(0, 1)
    saturation = rng.choice([rng.uniform(0.0, 0.25), rng.uniform(0.3, 0.9)], p=[0.45, 0.55])
    value = rng.uniform(0.12, 0.95)
    h6 = hue * 6.0
    c = value * saturation
    x = c * (1 - abs(h6 % 2 - 1))
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h6) % 6]
    m = value - c
    return tuple(float(v + m) for v in rgb)


def _luminance(rgb) -> float:
    return float(np.dot(rgb, (0.299, 0.587, 0.114)))


def _contrasting_color(rng: np.random.Generator, base: tuple, min_difference: float = 0.35) -> tuple:
    """A clothing colour whose luminance differs from `base`'s by at least `min_difference`
    (light on dark clothes, dark on light ones), so that it shows at 128-pixel crops."""
    target_dark = _luminance(base) > 0.5
    for _ in range(20):
        color = _cloth_color(rng)
        if abs(_luminance(color) - _luminance(base)) >= min_difference:
            return color
    value = rng.uniform(0.05, 0.15) if target_dark else rng.uniform(0.85, 0.97)
    return tuple(float(v) for v in np.full(3, value))


def sample_appearance(rng: np.random.Generator, girth: float = 1.0) -> Appearance:
    """Random skin tone, hair and clothing colours, sleeve and trouser lengths, and the
    front cues' colours: a shirt front panel and shoe toe caps that contrast with the shirt
    and the shoes (drawn after the other fields from the same stream)."""
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.93, 1.05)
    look = dict(  # the earlier fields, drawn in the earlier order
        skin=tuple(np.clip(skin, 0, 1)), hair=tuple(_HAIR[rng.integers(len(_HAIR))]),
        shirt=_cloth_color(rng), trousers=_cloth_color(rng),
        shoes=tuple(np.full(3, rng.uniform(0.05, 0.5)) * rng.uniform(0.8, 1.2, 3)),
        long_sleeves=bool(rng.random() < 0.6), long_trousers=bool(rng.random() < 0.75), girth=float(girth),
    )
    toe = rng.uniform(0.8, 0.97) if _luminance(look["shoes"]) < 0.4 else rng.uniform(0.03, 0.1)
    return Appearance(**look, shirt_front=_contrasting_color(rng, look["shirt"]),
                      toe_caps=tuple(float(v) for v in np.clip(toe * rng.uniform(0.92, 1.05, 3), 0, 1)))


@dataclass(frozen=True)
class Light:
    """A directional light in camera coordinates (unit vector towards the light) plus ambient."""

    direction: tuple = (-0.35, -0.6, -0.72)
    ambient: float = 0.45
    diffuse: float = 0.65
    specular: float = 0.12
    color: tuple = (1.0, 1.0, 1.0)


# ----------------------------------------------------------------------------- the body

# Names of the body parts, in the order of `body_primitives`.
BODY_PARTS: list[str] = [
    "hips", "belly", "chest", "shoulders", "neck", "head", "nose",
    "r_upper_arm", "r_forearm", "r_hand", "l_upper_arm", "l_forearm", "l_hand",
    "r_thigh", "r_shin", "r_foot", "l_thigh", "l_shin", "l_foot",
]
_P = {name: i for i, name in enumerate(BODY_PARTS)}

# The parts each joint sits in (a joint is visible when one of these is the first surface hit).
OWN_PARTS: list[list[int]] = [[_P[p] for p in parts] for parts in [
    ["r_shin", "r_foot"], ["r_thigh", "r_shin"], ["hips", "r_thigh"],
    ["hips", "l_thigh"], ["l_thigh", "l_shin"], ["l_shin", "l_foot"],
    ["hips", "belly"], ["chest", "neck", "shoulders"], ["neck", "head"], ["head"],
    ["r_forearm", "r_hand"], ["r_upper_arm", "r_forearm"], ["r_upper_arm", "shoulders", "chest"],
    ["l_upper_arm", "shoulders", "chest"], ["l_upper_arm", "l_forearm"], ["l_forearm", "l_hand"],
]]
# How far (fraction of stature) the first own surface may lie in front of a joint and the
# joint still count as visible: about 1.6 x the body's radius there, plus 20 mm.
_VISIBLE_DEPTH_RATIO = 1.6 * np.array([
    0.035, 0.04, 0.07, 0.07, 0.04, 0.035, 0.07, 0.075, 0.06, 0.07,
    0.03, 0.03, 0.07, 0.07, 0.03, 0.03,
])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _unit(v: np.ndarray, fallback) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.asarray(fallback, dtype=np.float64)


def _frame(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(3, 3) orthonormal columns (left, up, forward) with `up` exact."""
    up = _unit(up, [0.0, -1.0, 0.0])
    left = left - (left @ up) * up
    if np.linalg.norm(left) < 1e-9:
        left = _cross(up, np.array([0.0, 0.0, 1.0]) if abs(up[2]) < 0.9 else np.array([1.0, 0.0, 0.0]))
    left = _unit(left, [1.0, 0.0, 0.0])
    return np.stack([left, up, _cross(left, up)], axis=1)


def estimate_stature(joints_3d: np.ndarray) -> float:
    """Standing height (mm) implied by a pose's bone lengths (legs, spine, neck, head)."""
    j = joints_3d
    leg = 0.5 * (np.linalg.norm(j[J["r_hip"]] - j[J["r_knee"]]) + np.linalg.norm(j[J["r_knee"]] - j[J["r_ankle"]])
                 + np.linalg.norm(j[J["l_hip"]] - j[J["l_knee"]]) + np.linalg.norm(j[J["l_knee"]] - j[J["l_ankle"]]))
    trunk = (np.linalg.norm(j[J["thorax"]] - j[J["pelvis"]]) + np.linalg.norm(j[J["upper_neck"]] - j[J["thorax"]])
             + np.linalg.norm(j[J["head_top"]] - j[J["upper_neck"]]))
    return float((leg + trunk) / 0.961)


def body_primitives(joints_3d: np.ndarray, appearance: Appearance = Appearance()) -> list:
    """The body's primitives (in `BODY_PARTS` order) for a (16, 3) pose in camera mm."""
    j = np.asarray(joints_3d, dtype=np.float64)
    h = estimate_stature(j)
    g = appearance.girth
    skin, hair = np.array(appearance.skin), np.array(appearance.hair)
    shirt, trousers, shoes = np.array(appearance.shirt), np.array(appearance.trousers), np.array(appearance.shoes)
    forearm_color = shirt if appearance.long_sleeves else skin
    shin_color = trousers if appearance.long_trousers else skin
    cues = appearance.front_cues
    front, toes = np.array(appearance.shirt_front), np.array(appearance.toe_caps)
    chest_look = dict(pattern="shirt", color2=front, color3=skin) if cues else {}
    belly_look = dict(pattern="shirt", color2=front, color3=None) if cues else {}
    head_look = dict(pattern="face", color2=hair) if cues else dict(pattern="head", color2=hair)
    shoe_look = dict(pattern="shoe", color2=toes) if cues else {}

    pelvis, thorax = j[J["pelvis"]], j[J["thorax"]]
    spine = thorax - pelvis
    hips_frame = _frame(j[J["l_hip"]] - j[J["r_hip"]], spine)
    chest_frame = _frame(j[J["l_shoulder"]] - j[J["r_shoulder"]], spine)
    belly_frame = _frame(hips_frame[:, 0] + chest_frame[:, 0], spine)
    head_up = j[J["head_top"]] - j[J["upper_neck"]]
    head_len = float(np.linalg.norm(head_up))
    head_frame = _frame(chest_frame[:, 0], head_up)

    prims = [
        Ellipsoid(pelvis + 0.03 * h * hips_frame[:, 1] - 0.005 * h * hips_frame[:, 2], hips_frame,
                  np.array([0.10 * g, 0.085, 0.068 * g]) * h, trousers),
        Ellipsoid(pelvis + 0.5 * spine, belly_frame, np.array([0.088 * g, 0.13, 0.062 * g]) * h, shirt,
                  **belly_look),
        Ellipsoid(thorax - 0.1 * h * chest_frame[:, 1], chest_frame, np.array([0.1 * g, 0.12, 0.066 * g]) * h, shirt,
                  **chest_look),
        Capsule(j[J["r_shoulder"]], j[J["l_shoulder"]], 0.033 * g * h, shirt),
        Capsule(thorax, j[J["upper_neck"]] - 0.15 * head_up, 0.028 * g * h, skin),
        Ellipsoid(j[J["upper_neck"]] + 0.5 * head_up + 0.012 * h * head_frame[:, 2], head_frame,
                  np.array([0.046 * h, 0.5 * head_len + 0.002 * h, 0.056 * h]), skin, **head_look),
        Ellipsoid(j[J["upper_neck"]] + 0.38 * head_up + 0.064 * h * head_frame[:, 2], head_frame,
                  np.array([0.009, 0.014, 0.012]) * h, skin),
    ]
    for side in ("r_", "l_"):
        sh, el, wr = j[J[side + "shoulder"]], j[J[side + "elbow"]], j[J[side + "wrist"]]
        forearm_dir = _unit(wr - el, [0.0, 1.0, 0.0])
        hand_frame = _frame(_cross(forearm_dir, _unit(el - sh, [0.0, 1.0, 0.0])) + 1e-3 * chest_frame[:, 0],
                            forearm_dir)
        prims += [
            Capsule(sh, el, 0.029 * g * h, shirt),
            Capsule(el, wr, 0.023 * g * h, forearm_color),
            Ellipsoid(wr + 0.045 * h * forearm_dir, hand_frame, np.array([0.027, 0.05, 0.014]) * h, skin),
        ]
    left_axis = _unit(j[J["l_hip"]] - j[J["r_hip"]], hips_frame[:, 0])
    for side in ("r_", "l_"):
        hip, knee, ankle = j[J[side + "hip"]], j[J[side + "knee"]], j[J[side + "ankle"]]
        thigh_dir = _unit(knee - hip, [0.0, 1.0, 0.0])
        shin_dir = _unit(ankle - knee, [0.0, 1.0, 0.0])
        # The foot points forwards, perpendicular to the shin: along shin x hinge axis,
        # with the hinge taken from the knee's bend (or the pelvis' left axis when straight).
        hinge = _unit(_cross(thigh_dir, shin_dir) + 0.3 * left_axis, left_axis)
        foot_dir = _unit(_cross(shin_dir, hinge), hips_frame[:, 2])
        heel = ankle + 0.025 * h * shin_dir - 0.02 * h * foot_dir
        prims += [
            Capsule(hip, knee, 0.047 * g * h, trousers),
            Capsule(knee, ankle, 0.033 * g * h, shin_color),
            Capsule(heel, heel + 0.135 * h * foot_dir, 0.024 * h, shoes, **shoe_look),
        ]
    return prims


def _head_colors(local: np.ndarray, skin: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """Face and hair on the head ellipsoid. local: (M, 3) unit-sphere (left, up, forward)."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colors = np.repeat(skin[None], len(local), axis=0)
    is_hair = (y > 0.42 - 0.1 * z) | ((z < -0.1) & (y > -0.55))
    colors[is_hair] = hair
    for ex in (-0.36, 0.36):
        eye = (x - ex) ** 2 + ((y - 0.1) / 0.8) ** 2 < 0.016
        colors[eye & (z > 0.5)] = (0.05, 0.05, 0.08)
    mouth = (np.abs(x) < 0.2) & (np.abs(y + 0.45) < 0.06) & (z > 0.5)
    colors[mouth] = skin * (0.55, 0.35, 0.35)
    return colors


def _face_colors(local: np.ndarray, skin: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """The strong front cue on the head (unit-sphere (left, up, forward) coordinates): hair over
    the whole back, top and upper sides, a skin-coloured face oval at the front with dark brows,
    eyes with light whites, and a mouth; symmetric in x (left/right)."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colors = np.repeat(skin[None], len(local), axis=0)
    face = (z > 0.05) & ((x / 0.78) ** 2 + ((y + 0.1) / 0.72) ** 2 < 1.0)
    colors[~face & (y > -0.75)] = hair            # everything but the face oval and the chin/nape
    colors[(z < 0.0) & (y > -0.95)] = hair        # the back of the head down to the neck
    front = z > 0.35
    ax = np.abs(x)
    brow = front & (np.abs(ax - 0.33) < 0.2) & (np.abs(y - 0.3) < 0.07)
    colors[brow] = 0.6 * hair + 0.02
    white = front & ((ax - 0.33) ** 2 / 0.21 ** 2 + (y - 0.08) ** 2 / 0.13 ** 2 < 1.0)
    colors[white] = (0.95, 0.95, 0.93)
    pupil = front & ((ax - 0.33) ** 2 + (y - 0.08) ** 2 < 0.11 ** 2)
    colors[pupil] = (0.04, 0.03, 0.03)
    mouth = front & (ax < 0.27) & (np.abs(y + 0.45) < 0.08)
    colors[mouth] = skin * (0.55, 0.25, 0.25)
    return colors


def _shirt_colors(local: np.ndarray, shirt: np.ndarray, panel: np.ndarray, skin) -> np.ndarray:
    """A shirt whose front differs from its back: a contrasting panel down the front (|x| < 0.42
    on the front half) and, on the chest (skin given), a V collar; the back is plain."""
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    colors = np.repeat(shirt[None], len(local), axis=0)
    colors[(z > 0.0) & (np.abs(x) < 0.42)] = panel
    if skin is not None:
        colors[(z > 0.0) & (y > 0.3) & (np.abs(x) < 0.6 * (y - 0.3))] = skin
    return colors


def _pattern_colors(prim, p: np.ndarray) -> np.ndarray:
    c1 = np.asarray(prim.color, dtype=np.float64)
    if prim.pattern is None:
        return np.repeat(c1[None], len(p), axis=0)
    local = prim.local(p)
    if prim.pattern == "head":
        return _head_colors(local, c1, np.asarray(prim.color2, dtype=np.float64))
    c2 = np.asarray(prim.color2, dtype=np.float64)
    if prim.pattern == "face":
        return _face_colors(local, c1, c2)
    if prim.pattern == "shirt":
        return _shirt_colors(local, c1, c2, None if prim.color3 is None else np.asarray(prim.color3, dtype=np.float64))
    if prim.pattern == "shoe":  # a capsule from heel to toe: the toe cap is its front 45 %
        length = float(np.linalg.norm(np.asarray(prim.b) - np.asarray(prim.a)))
        return np.where((local[:, 0] > 0.55 * length)[:, None], c2, c1)
    if prim.pattern == "stripes":
        on = (np.floor(local[:, 0] / 60.0) % 2) == 0
    elif prim.pattern == "checker":
        on = ((np.floor(local[:, 0] / 80.0) + np.floor(local[:, 1] / 80.0) + np.floor(local[:, 2] / 80.0)) % 2) == 0
    else:
        raise ValueError(f"unknown pattern {prim.pattern!r} (expected None, 'head', 'face', 'shirt', 'shoe', "
                         "'stripes' or 'checker')")
    return np.where(on[:, None], c1, c2)


# ----------------------------------------------------------------------------- rendering

@dataclass
class Rendering:
    """What `render_pose` returns.

    image: (S, S, 3) uint8. depth: (S, S) float32 camera z (mm) of the nearest surface,
    body or occluder, inf where there is none. body_mask: (S, S) bool, the body is the
    nearest surface. part: (S, S) int16 index into BODY_PARTS, -1 background, -2 occluder.
    visible: (16,) bool per-joint visibility (see the module docstring).
    """

    image: np.ndarray
    depth: np.ndarray
    body_mask: np.ndarray
    part: np.ndarray
    visible: np.ndarray = field(repr=False)


def pixel_rays(camera: np.ndarray, image_size: int) -> np.ndarray:
    """(S, S, 3) ray directions (x, y, 1) through the pixel centres of a camera (fx, fy, cx, cy)."""
    fx, fy, cx, cy = (float(v) for v in camera)
    grid = np.arange(image_size, dtype=np.float64)
    rays = np.empty((image_size, image_size, 3))
    rays[..., 0] = ((grid - cx) / fx)[None, :]
    rays[..., 1] = ((grid - cy) / fy)[:, None]
    rays[..., 2] = 1.0
    return rays


def _pixel_box(prim, camera, image_size: int):
    """Rows and columns (y0, y1, x0, x1) that can see a primitive, or None if off-screen.

    The box covers the projections of the primitive's bounding spheres (exactly bounding
    for a sphere in front of the camera: the extremes of X / Z over the sphere are checked
    at its nearest and farthest depths).
    """
    fx, fy, cx, cy = camera
    x_lo = y_lo = np.inf
    x_hi = y_hi = -np.inf
    for centre, radius in prim.bounding_spheres():
        if centre[2] - radius < _NEAR:
            if centre[2] + radius < _NEAR:
                continue
            return 0, image_size, 0, image_size
        z_near, z_far = centre[2] - radius, centre[2] + radius
        for value, lo_hi in ((centre[0], 0), (centre[1], 1)):
            lo = min((value - radius) / z_near, (value - radius) / z_far)
            hi = max((value + radius) / z_near, (value + radius) / z_far)
            if lo_hi == 0:
                x_lo, x_hi = min(x_lo, fx * lo + cx), max(x_hi, fx * hi + cx)
            else:
                y_lo, y_hi = min(y_lo, fy * lo + cy), max(y_hi, fy * hi + cy)
    if not np.isfinite(x_lo):
        return None
    x0, x1 = max(int(np.floor(x_lo)) - 1, 0), min(int(np.ceil(x_hi)) + 2, image_size)
    y0, y1 = max(int(np.floor(y_lo)) - 1, 0), min(int(np.ceil(y_hi)) + 2, image_size)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1


def render_primitives(prims: list, camera, image_size: int, background=None, light: Light = Light(),
                      extra_rays: np.ndarray | None = None):
    """Ray-cast primitives through the pixels of a camera.

    Returns (image float (S, S, 3) in 0..1, depth (S, S) mm, index (S, S) int32, extra_hits):
    index is the position in `prims` of the nearest primitive, -1 where none. extra_rays:
    optional (M, 3) ray directions (z = 1) intersected with every primitive too (used for
    the joints' own rays); extra_hits is then (len(prims), M) depths, inf where missed.
    """
    camera = np.asarray(camera, dtype=np.float64)
    s = image_size
    rays = pixel_rays(camera, s)
    depth = np.full((s, s), np.inf)
    index = np.full((s, s), -1, dtype=np.int32)
    m = 0 if extra_rays is None else len(extra_rays)
    extra_hits = np.full((len(prims), m), np.inf)
    for k, prim in enumerate(prims):
        box = _pixel_box(prim, camera, s)
        if box is None:
            if m:
                extra_hits[k] = prim.intersect(extra_rays, (extra_rays * extra_rays).sum(1))
            continue
        y0, y1, x0, x1 = box
        d = rays[y0:y1, x0:x1].reshape(-1, 3)
        if m:
            d = np.concatenate([d, extra_rays])
        t = prim.intersect(d, (d * d).sum(1))
        if m:
            extra_hits[k] = t[-m:]
            t = t[:-m]
        t = t.reshape(y1 - y0, x1 - x0)
        tile = depth[y0:y1, x0:x1]
        nearer = t < tile
        tile[nearer] = t[nearer]
        index[y0:y1, x0:x1][nearer] = k

    if background is None:
        image = np.zeros((s, s, 3))
    else:
        image = np.asarray(background, dtype=np.float64)
        image = image / 255.0 if np.asarray(background).dtype == np.uint8 else image.copy()
    hit = index >= 0
    ids = index[hit]
    d = rays[hit]
    p = d * depth[hit][:, None]
    normals = np.empty_like(p)
    base = np.array([np.asarray(prim.color, dtype=np.float64) for prim in prims])[ids] if len(prims) else p
    for k in np.flatnonzero(np.bincount(ids, minlength=len(prims))):
        mine = ids == k
        normals[mine] = prims[k].normal(p[mine])
        if prims[k].pattern is not None:
            base[mine] = _pattern_colors(prims[k], p[mine])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    l_dir = _unit(np.asarray(light.direction, dtype=np.float64), [0.0, -1.0, -1.0])
    l_color = np.asarray(light.color, dtype=np.float64)
    half = _unit(l_dir + np.array([0.0, 0.0, -1.0]), l_dir)
    lambert = np.clip(normals @ l_dir, 0.0, 1.0)
    spec = np.clip(normals @ half, 0.0, 1.0) ** 20
    facing = -(normals * d).sum(1) / np.linalg.norm(d, axis=1)
    rim = 0.8 + 0.2 * np.clip(facing, 0.0, 1.0)
    shaded = base * ((light.ambient + light.diffuse * lambert) * rim)[:, None] * l_color
    image[hit] = shaded + light.specular * spec[:, None] * l_color
    return np.clip(image, 0.0, 1.0), depth, index, extra_hits


def joint_visibility(joints_3d: np.ndarray, camera, image_size: int, hits: np.ndarray) -> np.ndarray:
    """(16,) bool visibility from the depths `hits` (K, 16) at which each primitive (body parts
    first, in BODY_PARTS order, then occluders) meets each joint's ray (see the module doc)."""
    j = np.asarray(joints_3d, dtype=np.float64)
    z = j[:, 2]
    first = hits.min(0)
    own = np.array([hits[OWN_PARTS[i], i].min() for i in range(NUM_JOINTS)])
    stature = estimate_stature(j)
    uv = j[:, :2] / z[:, None] * np.asarray(camera)[None, :2] + np.asarray(camera)[None, 2:]
    inside = ((uv > -0.5) & (uv < image_size - 0.5)).all(1)
    return (inside & np.isfinite(own) & (first >= own - 5.0)
            & (z - own <= _VISIBLE_DEPTH_RATIO * stature + 20.0))


def render_pose(joints_3d, camera, image_size: int, *, appearance: Appearance = Appearance(),
                background=None, occluders=(), light: Light = Light()) -> Rendering:
    """Render a 16-joint pose as a shaded body.

    joints_3d: (16, 3) MPII joints in camera mm (z forward, all in front of the camera).
    camera: (fx, fy, cx, cy) in pixels of the rendered image. image_size: S (square image).
    appearance: colours and build. background: optional (S, S, 3) uint8 or float 0..1 image
    drawn behind everything. occluders: extra Capsule/Ellipsoid/Box primitives (camera mm)
    that hide the body where they are in front. light: a directional light.
    """
    joints_3d = np.asarray(joints_3d, dtype=np.float64)
    if joints_3d.shape != (NUM_JOINTS, 3):
        raise ValueError(f"render_pose: joints_3d must be (16, 3) MPII joints in camera mm, got {joints_3d.shape}")
    if not np.all(np.isfinite(joints_3d)) or np.any(joints_3d[:, 2] <= _NEAR):
        raise ValueError("render_pose: joints_3d must be finite and in front of the camera (z > 10 mm)")
    camera = np.asarray(camera, dtype=np.float64)
    if camera.shape != (4,):
        raise ValueError(f"render_pose: camera must be (fx, fy, cx, cy), got shape {camera.shape}")
    body = body_primitives(joints_3d, appearance)
    prims = body + list(occluders)
    joint_rays = joints_3d / joints_3d[:, 2:3]
    image, depth, index, hits = render_primitives(prims, camera, image_size, background, light, joint_rays)
    part = np.where(index >= len(body), -2, index).astype(np.int16)
    visible = joint_visibility(joints_3d, camera, image_size, hits)
    return Rendering(
        image=np.round(image * 255.0).astype(np.uint8), depth=depth.astype(np.float32),
        body_mask=(index >= 0) & (index < len(body)), part=part, visible=visible,
    )
