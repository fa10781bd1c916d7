"""Is a 3D pose anthropometrically plausible? Limb symmetry, bone lengths, knee and elbow bends.

The paper's claim (section 1, Figure 4 and Figure 6(d)) is that adversarial learning makes the
predicted poses plausible: symmetric limbs and joints bent the way joints bend. These functions
measure that on 3D poses in millimetres, MPII-16 order, any camera frame:

    symmetry = limb_symmetry(poses)                  # (N, 6) |right - left| mm, and relative
    errors = bone_length_errors(pred, gt)            # (N, 15) |length - true length| mm
    knees, elbows = knee_bend(poses), elbow_bend(poses)     # signed angles, degrees
    plausibility_scores(poses, gt)                   # the summary evaluate.json carries

Definitions (docs/conventions.md, "Plausibility"):

- Limb symmetry error: for each of the six left/right bone pairs (`skeleton.SYMMETRIC_BONES`:
  shin, thigh, forearm, upper arm, hip, shoulder) |length of the right bone - length of the
  left one| in mm; relative: that difference over the pair's mean length. A pair is
  "asymmetric" when the relative difference exceeds 20%.
- Bone-length error: |predicted - true length| of each of the 15 bones, in mm.
- Knee bend: the angle between thigh (hip -> knee) and shin (knee -> ankle), signed positive
  when the shin turns backwards, i.e. when (thigh x shin) points along the pelvis' left axis
  (l_hip - r_hip), the direction of a knee's hinge axis within the hip's range of rotation.
  A knee is hyperextended when it bends forwards by more than `HYPEREXTENSION_DEGREES`.
- Elbow bend: the angle between upper arm (shoulder -> elbow) and forearm (elbow -> wrist),
  and the humeral axial rotation that the direction of the bend implies in the thorax-humerus
  frame of the ISB recommendation (Wu et al. 2005, J. Biomech. 38: plane of elevation,
  elevation, axial rotation as a Y-X-Y sequence, thorax axes: left = l_shoulder - r_shoulder,
  up = thorax - pelvis). An elbow only flexes, towards the front of the forearm, so a bend
  whose implied axial rotation lies beyond the widest anatomical range of humeral rotation
  (90 degrees internal or external; AAOS, "Joint motion: method of measuring and recording",
  1965) plus the same 10 degrees of tolerance is an elbow bent backwards: hyperextended.
- Limits: a knee or elbow counts as hyperextended only when it bends backwards by more than
  10 degrees, the hyperextension many healthy adults reach (AAOS; Norkin and White,
  "Measurement of joint motion", 2016), so straight limbs and noise around 0 do not count.

The synthetic benchmark's people are symmetric and bend within these ranges
(`posegan/data/synthetic/body.py`), so the truth scores 0 on every measure there; real motion
capture carries a few millimetres of asymmetry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posegan.skeleton import BONE_CHILDREN, BONE_PARENTS, JOINT_NAMES, NUM_JOINTS, SYMMETRIC_BONES

J = {name: i for i, name in enumerate(JOINT_NAMES)}

# A knee or elbow bent backwards by more than this many degrees is hyperextended.
HYPEREXTENSION_DEGREES = 10.0
# The widest range of humeral axial rotation (internal and external), degrees (AAOS).
HUMERAL_ROTATION_LIMIT = 90.0
# A left/right pair whose lengths differ by more than this share of their mean is asymmetric.
ASYMMETRY_SHARE = 0.2


def _poses(poses) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"poses: expected shape (N, {NUM_JOINTS}, 3) mm, got {poses.shape}")
    return poses


def bone_lengths(poses) -> np.ndarray:
    """(N, 16, 3) mm -> (N, 15) bone lengths in mm, in the order of `skeleton.BONES`."""
    poses = _poses(poses)
    return np.linalg.norm(poses[:, BONE_CHILDREN] - poses[:, BONE_PARENTS], axis=-1)


def limb_symmetry(poses) -> tuple[np.ndarray, np.ndarray]:
    """Left/right differences of the six symmetric bone pairs.

    poses: (N, 16, 3) mm. Returns (absolute, relative), each (N, 6) in the order of
    `skeleton.SYMMETRIC_BONES`: |L_right - L_left| in mm, and that over (L_right + L_left) / 2
    (0 where both lengths are 0).
    """
    poses = _poses(poses)

    def length(bone):
        parent, child = bone
        return np.linalg.norm(poses[:, child] - poses[:, parent], axis=-1)

    right = np.stack([length(r) for r, _ in SYMMETRIC_BONES.values()], axis=1)
    left = np.stack([length(l) for _, l in SYMMETRIC_BONES.values()], axis=1)
    absolute = np.abs(right - left)
    mean = 0.5 * (right + left)
    relative = np.divide(absolute, mean, out=np.zeros_like(absolute), where=mean > 0)
    return absolute, relative


def bone_length_errors(pred, gt) -> np.ndarray:
    """(N, 15) |predicted - true| bone lengths in mm. pred, gt: (N, 16, 3) mm."""
    pred, gt = _poses(pred), _poses(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {pred.shape} vs {gt.shape}")
    return np.abs(bone_lengths(pred) - bone_lengths(gt))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle in degrees between (..., 3) vectors (atan2: accurate near 0 and 180)."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(-1)))


def knee_bend(poses) -> np.ndarray:
    """(N, 16, 3) mm -> (N, 2) signed knee bends in degrees (right, left).

    Positive: the shin turns backwards (flexion); negative: forwards (hyperextension). The
    magnitude is the angle between thigh and shin; the sign is that of (thigh x shin) along
    the pelvis' left axis l_hip - r_hip.
    """
    poses = _poses(poses)
    left_axis = poses[:, J["l_hip"]] - poses[:, J["r_hip"]]
    bends = []
    for side in ("r_", "l_"):
        thigh = poses[:, J[side + "knee"]] - poses[:, J[side + "hip"]]
        shin = poses[:, J[side + "ankle"]] - poses[:, J[side + "knee"]]
        sign = np.where((np.cross(thigh, shin) * left_axis).sum(-1) < 0, -1.0, 1.0)
        bends.append(sign * _angle_between(thigh, shin))
    return np.stack(bends, axis=1)


def _rot_y(deg: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations about y turning +z towards +x (the ISB sequence's Y)."""
    a = np.radians(deg)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1),
                     np.stack([-s, zero, c], -1)], -2)


def _rot_z(deg: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations about z turning +x towards +y."""
    a = np.radians(deg)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1),
                     np.stack([zero, zero, one], -1)], -2)


def elbow_bend(poses) -> tuple[np.ndarray, np.ndarray]:
    """(N, 16, 3) mm -> (flexion, humeral rotation), each (N, 2) degrees (right, left).

    flexion: the angle between upper arm and forearm, 0 for a straight arm. humeral rotation:
    the axial rotation of the humerus (internal positive) under which that bend is a flexion,
    in the ISB thorax-humerus frame (module docstring), in (-180, 180]; |rotation| beyond
    `HUMERAL_ROTATION_LIMIT` means the forearm is bent towards the back of the arm. The left
    arm is measured in the mirror image of the thorax frame, so both sides read alike.
    """
    poses = _poses(poses)
    left = _unit(poses[:, J["l_shoulder"]] - poses[:, J["r_shoulder"]])
    up = poses[:, J["thorax"]] - poses[:, J["pelvis"]]
    up = _unit(up - (up * left).sum(-1, keepdims=True) * left)
    forward = np.cross(left, up)
    thorax = np.stack([left, up, forward], axis=-1)              # (N, 3, 3), columns = axes
    flexions, rotations = [], []
    for side, mirror in (("r_", 1.0), ("l_", -1.0)):
        upper = poses[:, J[side + "elbow"]] - poses[:, J[side + "shoulder"]]
        fore = poses[:, J[side + "wrist"]] - poses[:, J[side + "elbow"]]
        flip = np.array([mirror, 1.0, 1.0])
        u = _unit(np.einsum("nji,nj->ni", thorax, upper)) * flip   # thorax-local, right-arm convention
        f = np.einsum("nji,nj->ni", thorax, fore) * flip
        elevation = np.degrees(np.arccos(np.clip(-u[:, 1], -1.0, 1.0)))
        plane = np.degrees(np.arctan2(u[:, 2], -u[:, 0]))
        # The arm's frame at zero axial rotation: Y(plane) Z(-elevation) Y(-plane) (thorax-local).
        zero_rotation = _rot_y(plane) @ _rot_z(-elevation) @ _rot_y(-plane)
        bend = f - (f * u).sum(-1, keepdims=True) * u            # forearm across the upper arm
        local = np.einsum("nji,nj->ni", zero_rotation, bend)    # = Y(rotation) applied to +z
        rotations.append(np.degrees(np.arctan2(local[:, 0], local[:, 2])))
        flexions.append(_angle_between(upper, fore))
    return np.stack(flexions, axis=1), np.stack(rotations, axis=1)


def hyperextended_knees(poses) -> np.ndarray:
    """(N, 2) bool: knees bent forwards by more than `HYPEREXTENSION_DEGREES`."""
    return knee_bend(poses) < -HYPEREXTENSION_DEGREES


def hyperextended_elbows(poses) -> np.ndarray:
    """(N, 2) bool: elbows bent by more than `HYPEREXTENSION_DEGREES` in a direction whose implied
    humeral rotation is beyond `HUMERAL_ROTATION_LIMIT` + the same tolerance (bent backwards)."""
    flexion, rotation = elbow_bend(poses)
    return (flexion > HYPEREXTENSION_DEGREES) & (np.abs(rotation) > HUMERAL_ROTATION_LIMIT + HYPEREXTENSION_DEGREES)


def plausibility_scores(poses, gt=None) -> dict[str, Any]:
    """The plausibility summary of one set of poses (evaluate.json's `plausibility`).

    poses: (N, 16, 3) mm; gt: the true poses of the same samples, or None (then no
    bone-length error). Returns symmetry_error (mm, mean over samples and the six pairs),
    symmetry_error_relative (percent), asymmetric_pairs (percent of pairs off by more than
    20%), symmetry_by_pair {pair: mm}, bone_length_error (mm, mean over samples and the 15
    bones; only with gt), knee_hyperextension and elbow_hyperextension (percent of knees /
    elbows bent backwards beyond the limits).
    """
    absolute, relative = limb_symmetry(poses)
    scores: dict[str, Any] = {
        "symmetry_error": float(absolute.mean()),
        "symmetry_error_relative": float(100.0 * relative.mean()),
        "asymmetric_pairs": float(100.0 * (relative > ASYMMETRY_SHARE).mean()),
        "symmetry_by_pair": {name: float(v) for name, v in zip(SYMMETRIC_BONES, absolute.mean(axis=0))},
    }
    if gt is not None:
        scores["bone_length_error"] = float(bone_length_errors(poses, gt).mean())
    scores["knee_hyperextension"] = float(100.0 * hyperextended_knees(poses).mean())
    scores["elbow_hyperextension"] = float(100.0 * hyperextended_elbows(poses).mean())
    return scores
