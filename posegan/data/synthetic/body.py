"""The synthetic body: skeleton proportions, joint angles with anatomical limits, forward kinematics.

Body frame (used by the joint angles): x = the person's left, y = up, z = forward (the
direction the chest faces), origin at the pelvis. Lengths are millimetres.

Proportions follow standard anthropometric ratios of stature H (Drillis and Contini):
ankle height 0.039 H, shin 0.246 H, thigh 0.245 H, pelvis to thorax 0.28 H, thorax to
upper neck 0.06 H, upper neck to head top 0.13 H, so that the standing skeleton is exactly
H tall from the floor to the head top; upper arm 0.186 H, forearm 0.146 H, hip joints
+-0.055 H and shoulder joints +-0.105 H from the midline. Each subject varies these
ratios by a few per cent; left and right are always equal.

Joint angles (degrees), `ANGLE_NAMES` order; "right" and "left" are the person's sides:

- root_yaw, root_pitch, root_roll: global orientation (about up, left, forward).
- spine_flex (forward bend +), spine_lat (bend to the left +), spine_twist (chest turns left +).
- neck_flex, neck_lat, head_flex, head_lat: the same for thorax->upper neck and the head.
- {r,l}_sh_plane, {r,l}_sh_elev, {r,l}_sh_rot: shoulder as plane of elevation (0 = sideways,
  90 = forwards, -90 = backwards, 150 = across the chest), elevation (0 = hanging,
  180 = overhead) and axial rotation (internal +); {r,l}_elbow: flexion 0..150.
- {r,l}_hip_flex (thigh forwards +), {r,l}_hip_abd (sideways out +), {r,l}_hip_rot
  (internal +); {r,l}_knee: flexion 0..150, always bending backwards (heel towards the
  buttock) - a knee cannot bend forwards.

`forward_kinematics` turns angles into the 16 MPII joints; `penetrates` rejects poses whose
arms pass through the torso or head or whose legs pass through each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posegan.skeleton import JOINT_NAMES, NUM_JOINTS

J = {name: i for i, name in enumerate(JOINT_NAMES)}

ANGLE_NAMES: list[str] = [
    "root_yaw", "root_pitch", "root_roll",
    "spine_flex", "spine_lat", "spine_twist",
    "neck_flex", "neck_lat", "head_flex", "head_lat",
    "r_sh_plane", "r_sh_elev", "r_sh_rot", "r_elbow",
    "l_sh_plane", "l_sh_elev", "l_sh_rot", "l_elbow",
    "r_hip_flex", "r_hip_abd", "r_hip_rot", "r_knee",
    "l_hip_flex", "l_hip_abd", "l_hip_rot", "l_knee",
]
A = {name: i for i, name in enumerate(ANGLE_NAMES)}
NUM_ANGLES = len(ANGLE_NAMES)

# Anatomical range of each angle in degrees (root angles are free).
_LIMITS = {
    "root_yaw": (-360.0, 360.0), "root_pitch": (-180.0, 180.0), "root_roll": (-180.0, 180.0),
    "spine_flex": (-30.0, 90.0), "spine_lat": (-35.0, 35.0), "spine_twist": (-45.0, 45.0),
    "neck_flex": (-40.0, 50.0), "neck_lat": (-35.0, 35.0),
    "head_flex": (-35.0, 40.0), "head_lat": (-25.0, 25.0),
    "sh_plane": (-90.0, 150.0), "sh_elev": (0.0, 180.0), "sh_rot": (-60.0, 90.0), "elbow": (0.0, 150.0),
    "hip_flex": (-25.0, 135.0), "hip_abd": (-25.0, 60.0), "hip_rot": (-40.0, 45.0), "knee": (0.0, 150.0),
}
ANGLE_LOWER = np.array([_LIMITS[n[2:] if n[:2] in ("r_", "l_") else n][0] for n in ANGLE_NAMES])
ANGLE_UPPER = np.array([_LIMITS[n[2:] if n[:2] in ("r_", "l_") else n][1] for n in ANGLE_NAMES])

# An arm raised behind the body (plane of elevation below -20 deg) cannot go above this elevation.
MAX_BACKWARD_ELEVATION = 70.0


def clamp_angles(angles: np.ndarray) -> np.ndarray:
    """Clip (..., NUM_ANGLES) degrees to the anatomical limits (including the coupled shoulder limit)."""
    out = np.clip(np.asarray(angles, dtype=np.float64), ANGLE_LOWER, ANGLE_UPPER)
    for side in ("r_", "l_"):
        plane, elev = out[..., A[side + "sh_plane"]], out[..., A[side + "sh_elev"]]
        out[..., A[side + "sh_elev"]] = np.where(plane < -20.0, np.minimum(elev, MAX_BACKWARD_ELEVATION), elev)
    return out


# ----------------------------------------------------------------------------- proportions

# Segment lengths as fractions of stature; see the module docstring.
_RATIOS = {
    "ankle_height": 0.039, "shin": 0.246, "thigh": 0.245, "spine": 0.28, "neck": 0.06, "head": 0.13,
    "hip_half_width": 0.055, "shoulder_half_width": 0.105, "shoulder_drop": 0.012,
    "upper_arm": 0.186, "forearm": 0.146,
}
_VERTICAL = ("ankle_height", "shin", "thigh", "spine", "neck", "head")


@dataclass(frozen=True)
class BodyProportions:
    """Segment lengths of one subject in mm (left and right equal), plus a girth factor.

    The vertical chain ankle_height + shin + thigh + spine + neck + head equals `stature`.
    `girth` scales the thickness of the rendered body (1 = average build).
    """

    stature: float
    ankle_height: float
    shin: float
    thigh: float
    spine: float
    neck: float
    head: float
    hip_half_width: float
    shoulder_half_width: float
    shoulder_drop: float
    upper_arm: float
    forearm: float
    girth: float = 1.0

    @classmethod
    def average(cls, stature: float = 1750.0) -> "BodyProportions":
        return cls(stature=float(stature), **{k: v * stature for k, v in _RATIOS.items()})


def sample_proportions(rng: np.random.Generator, height_range=(1500.0, 1950.0)) -> BodyProportions:
    """A random adult: stature uniform in `height_range` (mm), ratios varied by a few per cent."""
    stature = float(rng.uniform(*height_range))
    ratios = {k: v * float(rng.normal(1.0, 0.035)) for k, v in _RATIOS.items()}
    for k in ("hip_half_width", "shoulder_half_width"):
        ratios[k] = _RATIOS[k] * float(rng.normal(1.0, 0.06))
    # Rescale the vertical chain so that the standing height is exactly the stature.
    vertical = sum(ratios[k] for k in _VERTICAL)
    for k in _VERTICAL:
        ratios[k] /= vertical
    lengths = {k: v * stature for k, v in ratios.items()}
    girth = float(np.clip(rng.normal(1.0, 0.1), 0.8, 1.3))
    return BodyProportions(stature=stature, girth=girth, **lengths)


# ----------------------------------------------------------------------------- rotations

def _rotation(deg, i: int, j: int) -> np.ndarray:
    """(..., 3, 3) rotation in the plane of axes i -> j by `deg` degrees (turns +i towards +j)."""
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((*a.shape, 3, 3))
    m[..., 0, 0] = m[..., 1, 1] = m[..., 2, 2] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., j, i] = s
    m[..., i, j] = -s
    return m


def rot_x(deg) -> np.ndarray:
    """(..., 3, 3) rotation about x; positive angles turn +y towards +z."""
    return _rotation(deg, 1, 2)


def rot_y(deg) -> np.ndarray:
    """(..., 3, 3) rotation about y; positive angles turn +z towards +x."""
    return _rotation(deg, 2, 0)


def rot_z(deg) -> np.ndarray:
    """(..., 3, 3) rotation about z; positive angles turn +x towards +y."""
    return _rotation(deg, 0, 1)


def _apply(rotation: np.ndarray, vector) -> np.ndarray:
    return np.einsum("...ij,j->...i", rotation, np.asarray(vector, dtype=np.float64))


def root_rotation(angles: np.ndarray) -> np.ndarray:
    """(..., 3, 3) body-to-world rotation from root_yaw, root_pitch, root_roll (world y is up)."""
    a = np.asarray(angles, dtype=np.float64)
    # Pitch about the left axis: positive tips the chest forwards (up -> forward).
    return rot_y(a[..., A["root_yaw"]]) @ rot_x(a[..., A["root_pitch"]]) @ rot_z(-a[..., A["root_roll"]])


# ----------------------------------------------------------------------------- kinematics

def forward_kinematics(angles: np.ndarray, body: BodyProportions, include_root: bool = True) -> np.ndarray:
    """The 16 MPII joints of a pose.

    angles: (..., NUM_ANGLES) degrees (clipped to the limits first). body: the subject.
    Returns (..., 16, 3) mm with the pelvis at the origin, in the world orientation given by
    the root angles (world y up), or in the body frame (x left, y up, z forward) when
    include_root is False.
    """
    a = clamp_angles(angles)
    g = lambda name: a[..., A[name]]  # noqa: E731
    shape = a.shape[:-1]
    joints = np.zeros((*shape, NUM_JOINTS, 3))

    # Pelvis and hips (the pelvis is the midpoint of the hip joints).
    joints[..., J["r_hip"], :] = [-body.hip_half_width, 0.0, 0.0]
    joints[..., J["l_hip"], :] = [body.hip_half_width, 0.0, 0.0]

    # Spine: twist, then lateral bend, then forward flexion.
    r_thorax = rot_x(g("spine_flex")) @ rot_z(-g("spine_lat")) @ rot_y(g("spine_twist"))
    thorax = _apply(r_thorax, [0.0, body.spine, 0.0])
    joints[..., J["thorax"], :] = thorax
    joints[..., J["r_shoulder"], :] = thorax + _apply(r_thorax, [-body.shoulder_half_width, -body.shoulder_drop, 0.0])
    joints[..., J["l_shoulder"], :] = thorax + _apply(r_thorax, [body.shoulder_half_width, -body.shoulder_drop, 0.0])

    r_neck = r_thorax @ rot_x(g("neck_flex")) @ rot_z(-g("neck_lat"))
    upper_neck = thorax + _apply(r_neck, [0.0, body.neck, 0.0])
    r_head = r_neck @ rot_x(g("head_flex")) @ rot_z(-g("head_lat"))
    joints[..., J["upper_neck"], :] = upper_neck
    joints[..., J["head_top"], :] = upper_neck + _apply(r_head, [0.0, body.head, 0.0])

    # Arms: plane of elevation, elevation, axial rotation (ISB-like Y-X-Y sequence), then the
    # elbow flexes the forearm towards the arm's local +z. The left arm is the mirror image.
    for side, sign in (("r_", 1.0), ("l_", -1.0)):
        plane, elev, axial = g(side + "sh_plane"), g(side + "sh_elev"), g(side + "sh_rot")
        r_arm = r_thorax @ rot_y(sign * plane) @ rot_z(-sign * elev) @ rot_y(sign * (axial - plane))
        shoulder = joints[..., J[side + "shoulder"], :]
        elbow = shoulder + _apply(r_arm, [0.0, -body.upper_arm, 0.0])
        flex = np.deg2rad(g(side + "elbow"))[..., None]
        forearm = np.stack([np.zeros_like(flex[..., 0]), -np.cos(flex[..., 0]), np.sin(flex[..., 0])], -1)
        wrist = elbow + np.einsum("...ij,...j->...i", r_arm, forearm) * body.forearm
        joints[..., J[side + "elbow"], :] = elbow
        joints[..., J[side + "wrist"], :] = wrist

    # Legs: flexion, abduction, internal rotation (in this order, so that the knee's hinge
    # axis always keeps a positive component along the pelvis' left axis); the knee bends
    # the shin backwards (local -z) only.
    for side, sign in (("r_", 1.0), ("l_", -1.0)):
        r_leg = rot_x(-g(side + "hip_flex")) @ rot_z(-sign * g(side + "hip_abd")) @ rot_y(sign * g(side + "hip_rot"))
        hip = joints[..., J[side + "hip"], :]
        knee = hip + _apply(r_leg, [0.0, -body.thigh, 0.0])
        flex = np.deg2rad(g(side + "knee"))
        shin = np.stack([np.zeros_like(flex), -np.cos(flex), -np.sin(flex)], -1)
        ankle = knee + np.einsum("...ij,...j->...i", r_leg, shin) * body.shin
        joints[..., J[side + "knee"], :] = knee
        joints[..., J[side + "ankle"], :] = ankle

    if include_root:
        joints = np.einsum("...ij,...pj->...pi", root_rotation(a), joints)
    return joints


# Radius (fraction of stature) of the body around each joint, used to put the body on the
# floor and by the renderer. Ankles stand on the sole, ankle_height above the floor.
JOINT_RADIUS_RATIO = np.array([
    0.039, 0.034, 0.055, 0.055, 0.034, 0.039,   # ankles (sole), knees, hips
    0.065, 0.065, 0.03, 0.012,                  # pelvis, thorax, upper neck, head top
    0.03, 0.027, 0.035, 0.035, 0.027, 0.03,     # wrists (hand), elbows, shoulders
])


def floor_offset(joints_world: np.ndarray, body: BodyProportions) -> np.ndarray:
    """Height (..., ) to add to world y so that the lowest body surface touches the floor y = 0.

    joints_world: (..., 16, 3) mm, world y up. Besides the joints, the head (a sphere around
    the head segment's midpoint) may touch the floor, for example when lying.
    """
    radius = JOINT_RADIUS_RATIO * body.stature * body.girth ** 0.5
    radius[[J["r_ankle"], J["l_ankle"]]] = body.ankle_height
    lowest = (joints_world[..., 1] - radius).min(axis=-1)
    head_mid = 0.5 * (joints_world[..., J["upper_neck"], 1] + joints_world[..., J["head_top"], 1])
    lowest = np.minimum(lowest, head_mid - 0.07 * body.stature)
    return -lowest


# ----------------------------------------------------------------------------- collisions

def _torso_ellipsoids(joints: np.ndarray, body: BodyProportions):
    """Chest, belly and head ellipsoids (centre (3,), axes (3, 3) as columns, radii (3,))
    slightly smaller than the rendered ones, for collision tests of one pose (16, 3)."""
    pelvis, thorax = joints[J["pelvis"]], joints[J["thorax"]]
    left = joints[J["l_shoulder"]] - joints[J["r_shoulder"]]
    up = thorax - pelvis
    frame = _frame(left, up)
    h, g = body.stature, body.girth
    chest = (thorax - 0.10 * h * frame[:, 1], frame, np.array([0.085, 0.11, 0.055]) * h * [g, 1, g])
    belly = (pelvis + 0.35 * up, frame, np.array([0.075, 0.10, 0.05]) * h * [g, 1, g])
    head_up = joints[J["head_top"]] - joints[J["upper_neck"]]
    head_frame = _frame(left, head_up)
    head = (joints[J["upper_neck"]] + 0.5 * head_up, head_frame, np.array([0.04, 0.055, 0.05]) * h)
    return [chest, belly, head]


def _frame(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Orthonormal (3, 3) frame with columns (left, up, forward), up kept exactly."""
    up = up / max(np.linalg.norm(up), 1e-9)
    left = left - np.dot(left, up) * up
    n = np.linalg.norm(left)
    if n < 1e-9:  # degenerate: any axis orthogonal to up
        left = np.cross(up, [0.0, 0.0, 1.0]) if abs(up[2]) < 0.9 else np.cross(up, [1.0, 0.0, 0.0])
        n = np.linalg.norm(left)
    left = left / n
    return np.stack([left, up, np.cross(left, up)], axis=1)


def _segment_distance(p0, p1, q0, q1) -> float:
    """Smallest distance between segments p0-p1 and q0-q1 (sampled, accurate to ~1 %)."""
    s = np.linspace(0.0, 1.0, 9)
    a = p0 + s[:, None] * (p1 - p0)
    b = q0 + s[:, None] * (q1 - q0)
    return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min())


def penetrates(joints: np.ndarray, body: BodyProportions) -> bool:
    """True if a pose (16, 3) mm puts an arm through the torso or head, or a leg through the other leg.

    Elbows and wrists and points along the upper arm and forearm must stay outside the
    (slightly shrunken) chest, belly and head; thighs and shins of the two legs must stay
    at least 70 % of their summed thickness apart.
    """
    ellipsoids = _torso_ellipsoids(joints, body)
    s = np.linspace(0.25, 1.0, 4)[:, None]
    for side in ("r_", "l_"):
        sh, el, wr = joints[J[side + "shoulder"]], joints[J[side + "elbow"]], joints[J[side + "wrist"]]
        points = np.concatenate([sh + s * (el - sh), el + s * (wr - el)])
        for k, (centre, frame, radii) in enumerate(ellipsoids):
            pts = points if k < 2 else points[4:]  # the upper arm always touches the head's side
            local = (pts - centre) @ frame / radii
            if (local ** 2).sum(-1).min() < 1.0:
                return True
    h = body.stature * body.girth
    pairs = (("r_hip", "r_knee", "l_hip", "l_knee", 0.086 * h),
             ("r_knee", "r_ankle", "l_knee", "l_ankle", 0.06 * h),
             ("r_hip", "r_knee", "l_knee", "l_ankle", 0.073 * h),
             ("r_knee", "r_ankle", "l_hip", "l_knee", 0.073 * h))
    for a0, a1, b0, b1, thickness in pairs:
        d = _segment_distance(joints[J[a0]], joints[J[a1]], joints[J[b0]], joints[J[b1]])
        if d < 0.7 * thickness:
            return True
    return False


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., 15) bone lengths in the order of posegan.skeleton.BONES."""
    from posegan.skeleton import BONE_CHILDREN, BONE_PARENTS

    return np.linalg.norm(joints[..., BONE_CHILDREN, :] - joints[..., BONE_PARENTS, :], axis=-1)
