"""The synthetic two-domain benchmark: generate the samples and write the prepared files.

Files (the same names the real datasets use, so nothing downstream changes):

==========================  ======  ===================================================
file                        domain  contents
==========================  ======  ===================================================
h36m_train.h5               lab     subjects S1 S5 S6 S7 S8, 15 actions, 4 cameras, 3D
h36m_test.h5                lab     subjects S9 S11
mpii_train.h5, mpii_valid   wild    2D labels, visibility and head size only (no 3D)
mpii_valid3d.h5             wild    mpii_valid's samples with their true 3D: evaluation only
mpi_inf_3dhp_test.h5        cross   wild-like scenes, 7 activity classes, 3D
mpi_inf_3dhp_valid.h5       cross   the same, other subjects (VS1..VS3): for choosing settings
==========================  ======  ===================================================

How a sample is made (as a real pipeline would): a pose is placed in a world with a floor,
seen by an original camera (lab: one of four fixed 1000 x 1000 px cameras; wild: a random
image size, focal length, distance and elevation); a square crop is chosen around the
person's projected joints (centre and side in original pixels, with a margin), and the
scene is rendered straight into the crop through the crop camera
(`posegan.camera.crop_camera`). Crop pixels beyond the original image are black, as when a
real crop is padded.

Image effects: the studio is clean and sharp (a slight blur only); wild and cross-domain
images get a random colour cast, contrast, gamma, blur, sometimes sensor noise, and JPEG
compression (quality 55 to 95), and their backgrounds are rendered at half resolution
(soft focus).

The wild validation set's true 3D stays out of every training stage: `mpii_valid.h5` holds 2D
labels only, as MPII does, and the same samples (drawn from the same random streams, so
byte-identical images and 2D labels) are written a second time with their 3D, crop camera and
root depth into `mpii_valid3d.h5`, which only the evaluate stage reads (3D in the wild: a
measurement real MPII cannot give).

Layout: the lab files are ordered by subject, then action (15 blocks), then instant
(`frame` = frame number of the 50 fps sequence, instants 64 frames apart), then camera
(0..3: the four views of one instant are consecutive samples). The cross-domain file
cycles through its 6 subjects (TS1..TS6, fixed body and clothes each) and, every 6
samples, through the 7 activity classes (`action`).

Labels: joints_2d are the 3D joints projected with the crop camera (crop pixels);
joints_3d are camera millimetres; camera holds the crop intrinsics and root_depth the
pelvis' camera z. For the wild files joints_3d, camera and root_depth are NaN and has_3d
is False; joints_2d is still finite for every joint, but only `annotated` joints may be
used: a joint is not annotated when it falls outside the crop or outside the original
image (truncation). `visible` is False for joints hidden by an occluder or by another body
part (they stay annotated, as in MPII).

Head size (the PCKh normaliser, original-image pixels): MPII's is 0.6 x the diagonal of an
annotated head box. Here the head box is the square whose side is the head segment's
(upper neck to head top) 3D length seen at the head's distance, L = f * |head_top -
upper_neck| / z_head, so head_size = 0.6 * sqrt(2) * L; it does not shrink when the head
is foreshortened, as a box drawn around a head does not.

Determinism: every sample draws from its own random stream, seeded by (seed, domain,
split, sample index) - or by (seed, subject, action, keyframe / instant / camera) for the
lab's sequences - so the files are byte-identical for a seed whatever the number of
worker processes or the chunk a sample is generated in.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from posegan.atomic_files import replacing_folder
from posegan.camera import crop_camera, crop_to_original, project
from posegan.data.schema import PreparedWriter, prepared_path
from posegan.data.synthetic import scenes
from posegan.data.synthetic.body import BodyProportions, floor_offset, forward_kinematics, sample_proportions
from posegan.data.synthetic.motions import ACTIVITY_NAMES, LAB_ACTIONS, LabMotion, sample_valid, wild_pose
from posegan.data.synthetic.render import Appearance, render_pose, sample_appearance
from posegan.settings import setting
from posegan.skeleton import JOINT_NAMES, NUM_JOINTS

J = {name: i for i, name in enumerate(JOINT_NAMES)}

H36M_TRAIN_SUBJECTS = ["S1", "S5", "S6", "S7", "S8"]
H36M_TEST_SUBJECTS = ["S9", "S11"]
CROSS_SUBJECTS = ["TS1", "TS2", "TS3", "TS4", "TS5", "TS6"]
CROSS_VALID_SUBJECTS = ["VS1", "VS2", "VS3"]   # bodies and clothes of their own (numbers 7..9)
LAB_FPS = 50
LAB_FRAME_STEP = 64          # frames between consecutive instants of a sequence (1.28 s)
LAB_CROP_MARGIN = 1.25       # crop side / larger side of the joints' 2D box
MIN_ANNOTATED = 8            # a truncated wild sample keeps at least this many annotated joints
_DOMAIN_CODES = {"lab": 1, "wild": 2, "cross": 3}


# ----------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes of the synthetic benchmark (params `data.synthetic`; the crop side is `data.image_size`).

    seed: the data's own seed. The counts are samples per split (lab: per subject). workers:
    generator processes (the output does not depend on it).
    """

    image_size: int = setting(128, minimum=16)
    seed: int = setting(0, minimum=0)
    lab_train_per_subject: int = setting(1000, minimum=1)
    lab_test_per_subject: int = setting(500, minimum=1)
    wild_train: int = setting(5000, minimum=1)
    wild_valid: int = setting(1000, minimum=1)
    cross_test: int = setting(1050, minimum=1)
    cross_valid: int = setting(350, minimum=1)
    workers: int = setting(2, minimum=1)


@dataclass(frozen=True)
class SplitSpec:
    """One output file: which domain, how many samples, the id -> name tables."""

    dataset: str
    split: str
    domain: str
    num_samples: int
    subject_names: list = field(default_factory=list)
    subject_numbers: list = field(default_factory=list)  # the lab's S-numbers, seeding each subject
    action_names: list = field(default_factory=list)
    camera_names: list = field(default_factory=list)
    per_subject: int = 0
    stream: str = ""        # the split whose random streams the samples come from ("": this one)
    with_3d: bool = False   # a wild split that keeps its true 3D (evaluation only)

    @property
    def stream_split(self) -> str:
        return self.stream or self.split


def split_specs(config: SyntheticConfig) -> list[SplitSpec]:
    """The seven prepared files of the benchmark."""
    def lab(split, subjects, per_subject):
        return SplitSpec("h36m", split, "lab", per_subject * len(subjects), subjects,
                         [int(s[1:]) for s in subjects], LAB_ACTIONS, scenes.LAB_CAMERA_NAMES, per_subject)

    return [
        lab("train", H36M_TRAIN_SUBJECTS, config.lab_train_per_subject),
        lab("test", H36M_TEST_SUBJECTS, config.lab_test_per_subject),
        SplitSpec("mpii", "train", "wild", config.wild_train),
        SplitSpec("mpii", "valid", "wild", config.wild_valid),
        SplitSpec("mpii", "valid3d", "wild", config.wild_valid, stream="valid", with_3d=True),
        SplitSpec("mpi_inf_3dhp", "test", "cross", config.cross_test, CROSS_SUBJECTS, list(range(1, 7)),
                  ACTIVITY_NAMES),
        SplitSpec("mpi_inf_3dhp", "valid", "cross", config.cross_valid, CROSS_VALID_SUBJECTS, list(range(7, 10)),
                  ACTIVITY_NAMES),
    ]


# ----------------------------------------------------------------------------- helpers

def head_size(joints_cam: np.ndarray, focal: float) -> float:
    """PCKh normaliser in original pixels: 0.6 x diagonal of a square head box (see module doc)."""
    top, neck = joints_cam[J["head_top"]], joints_cam[J["upper_neck"]]
    side = focal * float(np.linalg.norm(top - neck)) / float(0.5 * (top[2] + neck[2]))
    return 0.6 * np.sqrt(2.0) * side


def joints_box(points_2d: np.ndarray):
    """(centre (2,), larger side) of the 2D bounding box of (P, 2) points."""
    lo, hi = points_2d.min(0), points_2d.max(0)
    return 0.5 * (lo + hi), float((hi - lo).max())


def _outside_original(crop_centre, crop_size, image_size, width, height) -> np.ndarray:
    """(S, S) bool: crop pixels whose centre maps outside the original width x height image."""
    grid = np.arange(image_size, dtype=np.float64)
    line = np.stack([grid, grid], axis=1)[None]  # the crop's diagonal gives every row and column
    orig = crop_to_original(line, np.asarray(crop_centre), np.asarray(crop_size), image_size)[0]
    cols = (orig[:, 0] < -0.5) | (orig[:, 0] >= width - 0.5)
    rows = (orig[:, 1] < -0.5) | (orig[:, 1] >= height - 0.5)
    return rows[:, None] | cols[None, :]


def _background(draw, intrinsics, crop_centre, crop_side, image_size: int, subsampling: int) -> np.ndarray:
    """(S, S, 3) uint8 background: draw(camera, size) -> float image in 0..1.

    subsampling 1 ray-casts every pixel (the sharp studio); 2 ray-casts at half resolution,
    blurs a little and upsamples (the wild scenes: soft focus, and a quarter of the cost).
    """
    if subsampling == 1:
        image = draw(crop_camera(intrinsics, crop_centre, crop_side, image_size), image_size)
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    small = max(image_size // subsampling, 8)
    image = draw(crop_camera(intrinsics, crop_centre, crop_side, small), small)
    image = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(0.6))  # hides the low resolution's stair steps
    return np.asarray(image.resize((image_size, image_size), Image.Resampling.BILINEAR))


@functools.lru_cache(maxsize=64)
def _subject(domain: str, number: int, seed: int) -> tuple[BodyProportions, Appearance]:
    """The body and clothes of a lab or cross-domain subject, fixed by its number and the seed."""
    rng = np.random.default_rng([seed, _DOMAIN_CODES[domain], 100, number])
    body = sample_proportions(rng)
    return body, sample_appearance(rng, body.girth)


def _empty(n: int, image_size: int, with_masks: bool) -> dict[str, np.ndarray]:
    out = {
        "images": np.zeros((n, image_size, image_size, 3), np.uint8),
        "joints_2d": np.zeros((n, NUM_JOINTS, 2), np.float32),
        "visible": np.zeros((n, NUM_JOINTS), bool),
        "annotated": np.zeros((n, NUM_JOINTS), bool),
        "joints_3d": np.full((n, NUM_JOINTS, 3), np.nan, np.float32),
        "has_3d": np.zeros(n, bool),
        "camera": np.full((n, 4), np.nan, np.float32),
        "root_depth": np.full(n, np.nan, np.float32),
        "head_size": np.zeros(n, np.float32),
        "crop_center": np.zeros((n, 2), np.float32),
        "crop_size": np.zeros(n, np.float32),
        "subject": np.full(n, -1, np.int32),
        "action": np.full(n, -1, np.int32),
        "camera_id": np.full(n, -1, np.int32),
        "frame": np.full(n, -1, np.int32),
    }
    if with_masks:
        out["body_mask"] = np.zeros((n, image_size, image_size), bool)
    return out


# ----------------------------------------------------------------------------- the lab

def _lab_sample_plan(spec: SplitSpec, index: int):
    """(subject slot, action index, instant within the action, camera index) of sample `index`."""
    slot, i = divmod(index, spec.per_subject)
    instants = -(-spec.per_subject // 4)
    instant, cam = divmod(i, 4)
    action = instant * len(LAB_ACTIONS) // instants
    first = -(-action * instants // len(LAB_ACTIONS))  # first instant of this action
    return slot, action, instant - first, cam


def _lab_samples(spec: SplitSpec, start: int, stop: int, image_size: int, seed: int, with_masks: bool):
    out = _empty(stop - start, image_size, with_masks)
    cameras = scenes.lab_cameras()
    width, height = scenes.LAB_IMAGE_SIZE
    motions: dict = {}
    instants: dict = {}
    for row, index in enumerate(range(start, stop)):
        slot, action, instant, cam = _lab_sample_plan(spec, index)
        number = spec.subject_numbers[slot]
        body, look = _subject("lab", number, seed)
        key = (number, action, instant)
        if key not in instants:  # the four cameras see the same instant
            if (number, action) not in motions:
                motions[number, action] = LabMotion(LAB_ACTIONS[action], (seed, 1, number, action), body,
                                                    scenes.LAB_AREA_RADIUS)
            offset = int(np.random.default_rng([seed, 1, number, action, 5]).integers(LAB_FRAME_STEP))
            frame = offset + instant * LAB_FRAME_STEP
            pose, position = motions[number, action].pose(frame / LAB_FPS)
            joints = forward_kinematics(pose.angles, body)
            joints += [position[0], 0.0, position[1]]
            joints[:, 1] += floor_offset(joints, body) + pose.airborne
            instants = {key: (frame, pose, joints)}
        frame, pose, joints = instants[key]

        intrinsics, rotation, centre = cameras[cam]
        rng = np.random.default_rng([seed, 1, number, action, instant, cam])
        joints_cam = scenes.world_to_camera(joints, rotation, centre)
        box_centre, box_side = joints_box(project(joints_cam, intrinsics))
        crop_side = box_side * LAB_CROP_MARGIN * rng.uniform(0.97, 1.03)
        crop_centre = box_centre + rng.normal(0, 0.01 * box_side, 2)
        cam_crop = crop_camera(intrinsics, crop_centre, crop_side, image_size)

        background = _background(lambda k, n: scenes.lab_background(k, rotation, centre, n, joints, body.stature),
                                 intrinsics, crop_centre, crop_side, image_size, subsampling=1)
        occluders = []
        if pose.seated:
            left = joints[J["l_hip"]] - joints[J["r_hip"]]
            forward = np.array([-left[2], 0.0, left[0]])  # left x up
            occluders = scenes.chair_primitives(joints[J["pelvis"]], forward, body.stature, rotation, centre,
                                                np.array([0.55, 0.45, 0.35]))
        rendering = render_pose(joints_cam, cam_crop, image_size, appearance=look, background=background,
                                occluders=occluders, light=scenes.lab_light(rotation))
        outside = _outside_original(crop_centre, crop_side, image_size, width, height)
        image = scenes.finish_image(rendering.image, rng, blur=0.45, outside=outside)

        joints_2d = project(joints_cam, cam_crop)
        orig_2d = project(joints_cam, intrinsics)
        in_original = ((orig_2d > -0.5) & (orig_2d < [width - 0.5, height - 0.5])).all(1)
        out["images"][row] = image
        out["joints_2d"][row] = joints_2d
        out["annotated"][row] = True  # motion capture labels every joint
        out["visible"][row] = rendering.visible & in_original
        out["joints_3d"][row] = joints_cam
        out["has_3d"][row] = True
        out["camera"][row] = cam_crop
        out["root_depth"][row] = joints_cam[J["pelvis"], 2]
        out["head_size"][row] = head_size(joints_cam, intrinsics[0])
        out["crop_center"][row] = crop_centre
        out["crop_size"][row] = crop_side
        out["subject"][row] = slot
        out["action"][row] = action
        out["camera_id"][row] = cam
        out["frame"][row] = frame
        if with_masks:
            out["body_mask"][row] = rendering.body_mask & ~outside
    return out


# ----------------------------------------------------------------------------- wild and cross-domain

# Wild facing: MPII people face the camera 72.5 % of the time (left shoulder on the image's
# right, over the 2932 validation people with both shoulders annotated; 72.8 % by the hips).
# The camera's azimuth is drawn relative to the person's forward direction, from a mixture: a
# share FRONT_POSED of a von Mises distribution centred on the front (concentration
# FRONT_KAPPA: people who turn towards the photographer) and the rest uniform around them.
# It is drawn by inverting the mixture's distribution function at a low-discrepancy sequence
# over the sample index (golden-ratio steps from a per-file random start), so any run of
# consecutive samples - a small test set as much as the whole file - has the intended share,
# up to what the pose adds (twisted torsos, lying people, steep views). FRONT_POSED is
# calibrated so that the prepared wild sets' share, measured as on MPII, is 72.5 %
# (tests/test_facing.py checks it). The cross-domain set uses the same distribution
# (MPI-INF-3DHP's test subjects mostly face its fixed camera); the lab's four cameras stay
# all around the subject (balanced). See docs/benchmark.md.
FRONT_KAPPA = 2.0
FRONT_POSED = 0.54
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def body_forward_azimuth(joints: np.ndarray) -> float:
    """The azimuth (radians, world Y up) of a person's forward direction: (left) x up, with
    left = (l_hip - r_hip) + (l_shoulder - r_shoulder) in the floor plane; azimuth 0 is +z and
    a camera at azimuth a sits at (sin a, ., cos a) from the person."""
    left = (joints[J["l_hip"]] - joints[J["r_hip"]]) + (joints[J["l_shoulder"]] - joints[J["r_shoulder"]])
    return float(np.arctan2(-left[2], left[0]))  # forward = (-left_z, 0, left_x)


@functools.lru_cache(maxsize=8)
def _relative_azimuth_table(posed: float, kappa: float, n: int = 4097):
    theta = np.linspace(-np.pi, np.pi, n)
    pdf = posed * np.exp(kappa * (np.cos(theta) - 1.0)) / (2 * np.pi * np.i0(kappa) * np.exp(-kappa)) \
        + (1.0 - posed) / (2 * np.pi)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(theta))])
    return cdf / cdf[-1], theta


def relative_azimuth(u: float, posed: float | None = None, kappa: float | None = None) -> float:
    """Camera azimuth relative to the person's forward direction (radians, 0 = in front) at
    quantile u in [0, 1) of the wild facing distribution (see FRONT_POSED)."""
    cdf, theta = _relative_azimuth_table(FRONT_POSED if posed is None else posed,
                                         FRONT_KAPPA if kappa is None else kappa)
    return float(np.interp(u, cdf, theta))


def facing_quantile(seed: int, domain: str, split_code: int, index: int) -> float:
    """The low-discrepancy quantile of sample `index`'s relative azimuth (see FRONT_POSED)."""
    start = np.random.default_rng([seed, _DOMAIN_CODES[domain], split_code, 77]).random()
    return float((start + _GOLDEN * (index + 1)) % 1.0)


def _wild_camera(rng, joints: np.ndarray, image_wh, *, allow_border_truncation: bool, facing_u: float):
    """A random camera (intrinsics (4,), rotation, centre) looking at a person (world joints);
    facing_u: the quantile of its azimuth relative to the person's front (`relative_azimuth`)."""
    width, height = image_wh
    target = 0.5 * (joints.min(0) + joints.max(0))
    extent = float(np.linalg.norm(joints.max(0) - joints.min(0))) + 200.0  # mm
    focal = max(width, height) * float(rng.choice([rng.uniform(0.5, 0.8), rng.uniform(0.8, 2.5)], p=[0.25, 0.75]))
    person_px = rng.uniform(0.35, 0.9) * min(width, height)
    distance = max(focal * extent / person_px, extent * 0.9 + 500.0)
    u = rng.random()
    if u < 0.2:
        elevation = rng.uniform(-35.0, -8.0)     # low angle, looking up
    elif u < 0.45:
        elevation = rng.uniform(25.0, 70.0)      # high angle, looking down
    else:
        elevation = rng.uniform(-8.0, 25.0)
    azimuth = body_forward_azimuth(joints) + relative_azimuth(facing_u)
    el = np.deg2rad(elevation)
    centre = target + distance * np.array([np.cos(el) * np.sin(azimuth), np.sin(el), np.cos(el) * np.cos(azimuth)])
    centre[1] = max(centre[1], 250.0)  # stay above the ground
    # Put the person somewhere in the frame (partly out of it when truncation is allowed).
    rotation = scenes.look_at(centre, target, rng.normal(0, 4.0))
    if allow_border_truncation and rng.random() < 0.15:
        shift = rng.uniform(0.3, 0.55, 2) * np.array([width, height]) * rng.choice([-1, 1], 2)
    else:
        shift = rng.uniform(-0.25, 0.25, 2) * np.array([width, height])
    look = target - (shift[0] / focal) * distance * rotation[0] - (shift[1] / focal) * distance * rotation[1]
    rotation = scenes.look_at(centre, look, rng.normal(0, 4.0))
    intrinsics = np.array([focal, focal, width / 2.0 - 0.5, height / 2.0 - 0.5])
    return intrinsics, rotation, centre


def _wild_geometry(spec: SplitSpec, index: int, image_size: int, seed: int) -> dict:
    """Everything of a wild or cross-domain sample up to its labels (person, camera, crop), and
    the sample's random stream positioned where the scene and rendering continue from it."""
    cross = spec.domain == "cross"
    split_code = {"train": 1, "valid": 2, "test": 3}[spec.stream_split]
    rng = np.random.default_rng([seed, _DOMAIN_CODES[spec.domain], split_code, index])
    slot = activity = -1
    if cross:
        slot = index % len(spec.subject_names)
        activity = (index // len(spec.subject_names)) % len(ACTIVITY_NAMES)
        body, look = _subject("cross", spec.subject_numbers[slot], seed)
        (pose, _), joints = sample_valid(lambda r: wild_pose(r, activity), rng, body)
    else:
        body = sample_proportions(rng)
        look = sample_appearance(rng, body.girth)
        (pose, _), joints = sample_valid(lambda r: wild_pose(r), rng, body)
    joints = joints + [0.0, floor_offset(joints, body) + pose.airborne, 0.0]

    width, height = [(640, 480), (720, 1280), (1280, 720), (1024, 768), (800, 600), (480, 640)][
        int(rng.integers(6))]
    facing_u = facing_quantile(seed, spec.domain, split_code, index)
    for attempt in range(8):
        # Truncation by the image border or a tight crop, but never below MIN_ANNOTATED joints
        # (MPII people are mostly visible); after three tries, no truncation at all.
        truncate = not cross and attempt < 3
        intrinsics, rotation, centre = _wild_camera(rng, joints, (width, height), allow_border_truncation=truncate,
                                                    facing_u=facing_u)
        joints_cam = scenes.world_to_camera(joints, rotation, centre)
        orig_2d = project(joints_cam, intrinsics)
        box_centre, box_side = joints_box(orig_2d)
        if truncate and rng.random() < 0.12:   # a tight or shifted crop that cuts off limbs
            crop_side = box_side * rng.uniform(0.6, 0.95)
            crop_centre = box_centre + rng.uniform(0.1, 0.3) * crop_side * rng.choice([-1, 1], 2)
        elif cross:
            crop_side = box_side * 1.25
            crop_centre = box_centre
        else:   # MPII-like centre and scale: a margin around the person, a little off-centre
            crop_side = box_side * rng.uniform(1.15, 1.45)
            crop_centre = box_centre + rng.normal(0, 0.04 * box_side, 2)
        cam_crop = crop_camera(intrinsics, crop_centre, crop_side, image_size)
        joints_2d = project(joints_cam, cam_crop)
        in_crop = ((joints_2d > -0.5) & (joints_2d < image_size - 0.5)).all(1)
        in_original = ((orig_2d > -0.5) & (orig_2d < [width - 0.5, height - 0.5])).all(1)
        annotated = in_original if cross else in_original & in_crop
        if annotated.sum() >= MIN_ANNOTATED and joints_cam[:, 2].min() > 200.0:
            break
    return dict(rng=rng, cross=cross, slot=slot, activity=activity, body=body, look=look, pose=pose, joints=joints,
                width=width, height=height, intrinsics=intrinsics, rotation=rotation, centre=centre,
                joints_cam=joints_cam, crop_centre=crop_centre, crop_side=crop_side, cam_crop=cam_crop,
                joints_2d=joints_2d, annotated=annotated)


def wild_labels(spec: SplitSpec, start: int, stop: int, image_size: int, seed: int) -> dict[str, np.ndarray]:
    """The labels of wild or cross-domain samples start..stop-1 without rendering them:
    joints_2d (N, 16, 2) crop pixels, annotated (N, 16) bool and joints_3d (N, 16, 3) camera
    mm - exactly those `generate_samples` stores (for a cross-domain file; a wild file stores
    NaN for joints_3d). Cheap: for statistics such as the share facing the camera."""
    if spec.domain not in ("wild", "cross"):
        raise ValueError(f"wild_labels: {spec.dataset}_{spec.split} is a {spec.domain} file, not wild or cross")
    rows = [_wild_geometry(spec, index, image_size, seed) for index in range(start, stop)]
    return {"joints_2d": np.array([r["joints_2d"] for r in rows], np.float32).reshape(-1, NUM_JOINTS, 2),
            "annotated": np.array([r["annotated"] for r in rows], bool).reshape(-1, NUM_JOINTS),
            "joints_3d": np.array([r["joints_cam"] for r in rows], np.float32).reshape(-1, NUM_JOINTS, 3)}


def _wild_samples(spec: SplitSpec, start: int, stop: int, image_size: int, seed: int, with_masks: bool):
    out = _empty(stop - start, image_size, with_masks)
    cross = spec.domain == "cross"
    for row, index in enumerate(range(start, stop)):
        g = _wild_geometry(spec, index, image_size, seed)
        rng, body, look, pose, joints = g["rng"], g["body"], g["look"], g["pose"], g["joints"]
        rotation, centre, intrinsics, joints_cam = g["rotation"], g["centre"], g["intrinsics"], g["joints_cam"]
        crop_centre, crop_side, cam_crop = g["crop_centre"], g["crop_side"], g["cam_crop"]
        width, height, joints_2d, annotated = g["width"], g["height"], g["joints_2d"], g["annotated"]
        slot, activity = g["slot"], g["activity"]

        scene = scenes.WildScene(rng, joints[J["pelvis"], [0, 2]], centre)
        background = _background(lambda k, n: scene.background(k, rotation, centre, n, joints, body.stature),
                                 intrinsics, crop_centre, crop_side, image_size, subsampling=2)
        occluders = []
        if pose.seated:
            left = joints[J["l_hip"]] - joints[J["r_hip"]]
            forward = np.array([-left[2], 0.0, left[0]])  # left x up
            occluders += scenes.chair_primitives(joints[J["pelvis"]], forward, body.stature, rotation, centre,
                                                 rng.uniform(0.1, 0.8, 3))
        if rng.random() < (0.2 if cross else 0.35):
            occluders += scenes.random_occluders(rng, joints_cam, body.stature)
        light = scenes.random_sun(rng, rotation)
        rendering = render_pose(joints_cam, cam_crop, image_size, appearance=look, background=background,
                                occluders=occluders, light=light)
        outside = _outside_original(crop_centre, crop_side, image_size, width, height)
        image = scenes.finish_image(
            rendering.image, rng, blur=float(rng.uniform(0.0, 1.1)), noise=float(rng.choice([0.0, rng.uniform(1, 5)])),
            gamma=float(rng.uniform(0.75, 1.35)), contrast=float(rng.uniform(0.75, 1.2)),
            brightness=float(rng.uniform(-0.08, 0.08)), color_gain=rng.uniform(0.85, 1.15, 3),
            jpeg_quality=int(rng.integers(55, 96)), outside=outside)

        out["images"][row] = image
        out["joints_2d"][row] = joints_2d
        out["annotated"][row] = annotated
        out["visible"][row] = rendering.visible & annotated
        out["head_size"][row] = head_size(joints_cam, intrinsics[0])
        out["crop_center"][row] = crop_centre
        out["crop_size"][row] = crop_side
        if cross or spec.with_3d:
            out["joints_3d"][row] = joints_cam
            out["has_3d"][row] = True
            out["camera"][row] = cam_crop
            out["root_depth"][row] = joints_cam[J["pelvis"], 2]
        if cross:
            out["subject"][row] = slot
            out["action"][row] = activity
            out["frame"][row] = index // len(spec.subject_names)
        if with_masks:
            out["body_mask"][row] = rendering.body_mask & ~outside
    return out


def generate_samples(spec: SplitSpec, start: int, stop: int, image_size: int, seed: int,
                     with_masks: bool = False) -> dict[str, np.ndarray]:
    """Samples start..stop-1 of one split as prepared-schema arrays (plus body_mask if asked)."""
    if not 0 <= start <= stop <= spec.num_samples:
        raise ValueError(f"sample range {start}..{stop} outside 0..{spec.num_samples} of {spec.dataset}_{spec.split}")
    if spec.domain == "lab":
        return _lab_samples(spec, start, stop, image_size, seed, with_masks)
    return _wild_samples(spec, start, stop, image_size, seed, with_masks)


# ----------------------------------------------------------------------------- writing

CHUNK = 32  # samples per work unit (a multiple of the lab's 4 cameras)


def _job(args):
    spec_index, spec, start, stop, image_size, seed = args
    return spec_index, start, generate_samples(spec, start, stop, image_size, seed)


def write_benchmark(out_dir, config: SyntheticConfig, params: dict | None = None, progress=None) -> list[Path]:
    """Generate every split and write the prepared files into `out_dir`, atomically.

    Everything is written into a temporary sibling folder first; only when all files are
    complete does it replace `out_dir` (an old `out_dir` is removed then). On any error
    the temporary folder is deleted and `out_dir` is left as it was.
    params: recorded in each file's `params` attribute. progress: optional callable(done, total).
    Returns the paths of the written files.
    """
    out_dir = Path(out_dir)
    specs = split_specs(config)
    jobs = [(k, spec, start, min(start + CHUNK, spec.num_samples), config.image_size, config.seed)
            for k, spec in enumerate(specs) for start in range(0, spec.num_samples, CHUNK)]
    total = sum(spec.num_samples for spec in specs)
    record = dict(params or {}, synthetic_config=asdict(config))
    with replacing_folder(out_dir) as tmp_dir, contextlib.ExitStack() as open_writers:
        writers = [open_writers.enter_context(PreparedWriter(
            prepared_path(tmp_dir, spec.dataset, spec.split), spec.num_samples, config.image_size,
            dataset=spec.dataset, split=spec.split, source="synthetic", params=record,
            subject_names=spec.subject_names, action_names=spec.action_names, camera_names=spec.camera_names))
            for spec in specs]
        done = 0
        for k, start, arrays in _run_jobs(jobs, config.workers):
            writers[k].write(slice(start, start + len(arrays["images"])), **arrays)
            done += len(arrays["images"])
            if progress is not None:
                progress(done, total)
    return [prepared_path(out_dir, spec.dataset, spec.split) for spec in specs]


def _run_jobs(jobs, workers: int):
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _job(job)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs))) as pool:
        yield from pool.imap(_job, jobs)
