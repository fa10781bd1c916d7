"""The synthetic benchmark: skeleton, joint limits, renderer, labels, determinism."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from fakes import DEFAULT_REAL
from posegan.camera import crop_camera, project
from posegan.data.schema import read_prepared, validate
from posegan.data.preprocess_settings import DataSettings
from posegan.data.synthetic import scenes
from posegan.data.synthetic.benchmark import (MIN_ANNOTATED, SyntheticConfig, _lab_sample_plan, generate_samples,
                                              head_size, split_specs, write_benchmark)
from posegan.data.synthetic.body import (A, ANGLE_LOWER, ANGLE_UPPER, NUM_ANGLES, BodyProportions, bone_lengths,
                                         floor_offset, forward_kinematics, penetrates, sample_proportions)
from posegan.data.synthetic.motions import ACTIVITY_NAMES, LAB_ACTIONS, LabMotion, sample_valid, wild_pose
from posegan.data.synthetic.render import Appearance, Box, Capsule, Ellipsoid, Light, render_pose, sample_appearance
from posegan.settings import ParamsError
from posegan.skeleton import BONES, FLIP_PAIRS, JOINT_NAMES

J = {name: i for i, name in enumerate(JOINT_NAMES)}
TINY = SyntheticConfig(image_size=64, seed=3, lab_train_per_subject=8, lab_test_per_subject=4, wild_train=12,
                       wild_valid=4, cross_test=7, cross_valid=5, workers=1)


# ----------------------------------------------------------------------------- body

def test_rest_pose_is_exactly_the_stature_tall_and_hand_computed():
    body = BodyProportions.average(1700.0)
    joints = forward_kinematics(np.zeros(NUM_ANGLES), body)
    joints[:, 1] += floor_offset(joints, body)
    assert joints[J["head_top"], 1] == pytest.approx(1700.0)
    assert joints[J["r_ankle"], 1] == pytest.approx(body.ankle_height)
    # Body frame: x = the person's left, so the right hip has negative x.
    assert joints[J["r_hip"], 0] == pytest.approx(-body.hip_half_width)
    assert joints[J["l_shoulder"], 0] == pytest.approx(body.shoulder_half_width)


def test_hand_computed_joint_angles():
    body = BodyProportions.average(1800.0)
    v = np.zeros(NUM_ANGLES)
    v[A["r_sh_plane"]], v[A["r_sh_elev"]], v[A["r_elbow"]] = 90.0, 90.0, 90.0   # arm forward, forearm up
    v[A["r_hip_flex"]], v[A["r_knee"]] = 90.0, 90.0                              # thigh forward, shin down
    j = forward_kinematics(v, body, include_root=False)
    np.testing.assert_allclose(j[J["r_elbow"]] - j[J["r_shoulder"]], [0, 0, body.upper_arm], atol=1e-9)
    np.testing.assert_allclose(j[J["r_wrist"]] - j[J["r_elbow"]], [0, body.forearm, 0], atol=1e-9)
    np.testing.assert_allclose(j[J["r_knee"]] - j[J["r_hip"]], [0, 0, body.thigh], atol=1e-9)
    np.testing.assert_allclose(j[J["r_ankle"]] - j[J["r_knee"]], [0, -body.shin, 0], atol=1e-9)
    # A bent knee with the thigh hanging puts the ankle behind the knee (a knee bends backwards).
    v = np.zeros(NUM_ANGLES)
    v[A["l_knee"]] = 90.0
    j = forward_kinematics(v, body, include_root=False)
    np.testing.assert_allclose(j[J["l_ankle"]] - j[J["l_knee"]], [0, 0, -body.shin], atol=1e-9)


def test_sampled_subjects_have_human_heights_and_symmetric_bones():
    rng = np.random.default_rng(0)
    for _ in range(40):
        body = sample_proportions(rng)
        assert 1500.0 <= body.stature <= 1950.0
        rest = forward_kinematics(np.zeros(NUM_ANGLES), body)
        height = rest[J["head_top"], 1] + floor_offset(rest, body)
        assert height == pytest.approx(body.stature)
        pose = forward_kinematics(rng.uniform(ANGLE_LOWER, ANGLE_UPPER), body)
        lengths = dict(zip(BONES, bone_lengths(pose)))
        bone_of = {child: (parent, child) for parent, child in BONES}
        for right, left in FLIP_PAIRS:
            assert lengths[bone_of[right]] == pytest.approx(lengths[bone_of[left]], rel=1e-9)


def test_knees_never_bend_forwards_and_limits_hold():
    """For any angles (even out of range) the knee's hinge axis points to the pelvis' left."""
    body = BodyProportions.average(1750.0)
    rng = np.random.default_rng(1)
    angles = rng.uniform(ANGLE_LOWER - 60, ANGLE_UPPER + 60, size=(2000, NUM_ANGLES))
    j = forward_kinematics(angles, body)
    left = j[:, J["l_hip"]] - j[:, J["r_hip"]]
    for hip, knee, ankle in (("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle")):
        thigh = j[:, J[knee]] - j[:, J[hip]]
        shin = j[:, J[ankle]] - j[:, J[knee]]
        cos = (thigh * shin).sum(1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shin, axis=1)
        bend = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert bend.max() <= 150.0 + 1e-6
        hinge = (np.cross(thigh, shin) * left).sum(1)
        assert np.all(hinge[bend > 1.0] > 0), "a knee bent forwards"
    for shoulder, elbow, wrist in (("r_shoulder", "r_elbow", "r_wrist"), ("l_shoulder", "l_elbow", "l_wrist")):
        upper = j[:, J[elbow]] - j[:, J[shoulder]]
        fore = j[:, J[wrist]] - j[:, J[elbow]]
        cos = (upper * fore).sum(1) / np.linalg.norm(upper, axis=1) / np.linalg.norm(fore, axis=1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() <= 150.0 + 1e-6


def test_penetration_check_catches_an_arm_through_the_chest():
    body = BodyProportions.average(1750.0)
    v = np.zeros(NUM_ANGLES)
    assert not penetrates(forward_kinematics(v, body), body)
    v[A["r_sh_plane"]], v[A["r_sh_elev"]] = 150.0, 80.0      # right arm straight across the chest ...
    v[A["r_sh_rot"]] = 0.0
    moved = forward_kinematics(v, body, include_root=False)
    moved[J["r_elbow"]] = moved[J["thorax"]] + [0.0, -150.0, 0.0]   # ... with the elbow inside it
    assert penetrates(moved, body)
    legs = forward_kinematics(np.zeros(NUM_ANGLES), body)
    legs[J["l_knee"]] = legs[J["r_knee"]] + [5.0, 0.0, 0.0]  # knees in the same place
    assert penetrates(legs, body)


def test_drawn_poses_are_valid_and_cover_all_activities():
    rng = np.random.default_rng(2)
    seen = set()
    for k in range(60):
        body = sample_proportions(rng)
        activity = k % len(ACTIVITY_NAMES)
        (spec, name), joints = sample_valid(lambda r: wild_pose(r, activity), rng, body)
        assert not penetrates(joints, body), name
        assert np.all(spec.angles >= ANGLE_LOWER - 1e-9) and np.all(spec.angles <= ANGLE_UPPER + 1e-9)
        seen.add(activity)
    assert seen == set(range(len(ACTIVITY_NAMES)))


def test_lab_motion_is_smooth_and_valid():
    """Sequences move like people: no self-penetration, joints rarely faster than 4 m/s
    relative to the pelvis (a walking foot swings at about 3 m/s)."""
    body = BodyProportions.average(1750.0)
    steps = []
    for action in ("Walking", "Eating", "SittingDown", "Phoning", "Directions"):
        motion = LabMotion(action, (0, 1, 1, LAB_ACTIONS.index(action)), body, 1100.0)
        previous = None
        for frame in range(0, 300):  # 50 fps
            spec, position = motion.pose(frame / 50.0)
            joints = forward_kinematics(spec.angles, body, include_root=False)
            assert not penetrates(joints, body), (action, frame)
            assert np.linalg.norm(position) <= 1100.0
            if previous is not None:
                steps.append(np.abs(joints - previous).max())
            previous = joints
    assert np.percentile(steps, 99) < 80.0  # mm per 20 ms
    assert np.median(steps) > 1.0           # and they do move


# ----------------------------------------------------------------------------- renderer

def _march(inside, d, t_max=6000.0, n=60001):
    ts = np.linspace(1.0, t_max, n)
    hits = inside(ts[:, None] * d[None])
    return ts[np.argmax(hits)] if hits.any() else np.inf


def test_ray_primitive_intersections_match_ray_marching():
    rng = np.random.default_rng(4)
    for _ in range(60):
        a = rng.uniform(-300, 300, 3) + [0, 0, 2500]
        b = a + rng.uniform(-400, 400, 3)
        r = rng.uniform(20, 120)
        axes = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        radii = rng.uniform(30, 200, 3)
        d = np.array([*rng.uniform(-0.12, 0.12, 2), 1.0])
        cases = [
            (Capsule(a, b, r, np.ones(3)),
             lambda p: np.linalg.norm(p - (a + np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)[:, None]
                                           * (b - a)), axis=1) <= r),
            (Ellipsoid(a, axes, radii, np.ones(3)), lambda p: ((((p - a) @ axes) / radii) ** 2).sum(1) <= 1),
            (Box(a, axes, radii, np.ones(3)), lambda p: (np.abs((p - a) @ axes) <= radii).all(1)),
        ]
        for prim, inside in cases:
            t = prim.intersect(d[None], np.array([d @ d]))[0]
            expected = _march(inside, d)
            assert (np.isinf(t) and np.isinf(expected)) or abs(t - expected) < 0.2, (type(prim).__name__, t, expected)


def _standing_in_front(yaw: float, distance: float = 3000.0):
    """A standing average person at `distance` mm, seen by a camera at chest height."""
    body = BodyProportions.average(1750.0)
    v = np.zeros(NUM_ANGLES)
    v[A["root_yaw"]] = yaw
    v[A["r_sh_elev"]] = v[A["l_sh_elev"]] = 20.0
    world = forward_kinematics(v, body)
    world[:, 1] += floor_offset(world, body)
    centre = np.array([0.0, 1300.0, distance])
    rotation = scenes.look_at(centre, [0.0, 900.0, 0.0])
    return scenes.world_to_camera(world, rotation, centre)


FLAT = Light(ambient=1.0, diffuse=0.0, specular=0.0)


def test_render_front_and_back_views_show_face_or_hair():
    look = Appearance(skin=(1.0, 0.0, 0.0), hair=(0.0, 0.0, 1.0), shirt=(0.0, 1.0, 0.0), trousers=(0.0, 1.0, 0.0))
    camera = np.array([170.0, 170.0, 63.5, 63.5])
    for yaw, expect in ((0.0, "face"), (180.0, "hair")):  # yaw 0 faces the camera at +z
        joints = _standing_in_front(yaw)
        r = render_pose(joints, camera, 128, appearance=look, light=FLAT)
        # The pixel a third of the way from the upper neck to the head top, on the head's front surface.
        point = joints[J["upper_neck"]] + 0.35 * (joints[J["head_top"]] - joints[J["upper_neck"]])
        u, v = np.round(project(point[None], camera)[0]).astype(int)
        color = r.image[v, u]
        if expect == "face":
            assert color[0] > 200 and color[2] < 50, color
        else:
            assert color[2] > 200 and color[0] < 50, color
        assert r.visible.sum() >= 14 if expect == "face" else True
    # Facing the camera the person's right side is on the image's left.
    front = project(_standing_in_front(0.0), camera)
    assert front[J["r_shoulder"], 0] < front[J["l_shoulder"], 0]


def test_left_and_right_limbs_share_the_clothing_colour():
    look = Appearance(shirt=(0.2, 0.4, 0.9), trousers=(0.7, 0.3, 0.1), long_sleeves=True, long_trousers=True)
    camera = np.array([170.0, 170.0, 63.5, 63.5])
    joints = _standing_in_front(0.0)
    r = render_pose(joints, camera, 128, appearance=look, light=FLAT)
    uv = np.round(project(joints, camera)).astype(int)
    mid = lambda a, b: np.round((uv[J[a]] + uv[J[b]]) / 2).astype(int)  # noqa: E731
    for right, left, color in (("r_hip", "r_knee", look.trousers), ("l_hip", "l_knee", look.trousers),
                               ("r_shoulder", "r_elbow", look.shirt), ("l_shoulder", "l_elbow", look.shirt)):
        u, v = mid(right, left)
        np.testing.assert_allclose(r.image[v, u] / 255.0, color, atol=0.25 * 0.2 + 2 / 255)


def test_depth_buffer_and_visibility():
    camera = np.array([170.0, 170.0, 63.5, 63.5])
    joints = _standing_in_front(0.0)
    r = render_pose(joints, camera, 128)
    assert r.visible.all()
    u, v = np.round(project(joints[J["pelvis"]][None], camera)[0]).astype(int)
    # The belly's front surface lies between 4 and 15 cm in front of the pelvis joint.
    assert 40.0 < joints[J["pelvis"], 2] - r.depth[v, u] < 150.0
    assert r.body_mask[v, u] and np.isinf(r.depth[0, 0]) and not r.body_mask[0, 0]
    # A box in front of the torso hides the pelvis and thorax joints, not the feet.
    centre = 0.5 * (joints[J["pelvis"]] + joints[J["thorax"]]) - [0.0, 0.0, 600.0]
    box = Box(centre, np.eye(3), np.array([150.0, 250.0, 20.0]), np.array([0.5, 0.5, 0.5]))
    r = render_pose(joints, camera, 128, occluders=[box])
    assert not r.visible[J["pelvis"]] and not r.visible[J["thorax"]]
    assert r.visible[J["r_ankle"]] and r.visible[J["l_ankle"]]
    assert not r.body_mask[v, u] and (r.part[v, u] == -2)
    # Seen from the side, the far hip and far shoulder are hidden by the body itself.
    side = _standing_in_front(90.0)   # turned 90 degrees: one side faces the camera
    r = render_pose(side, camera, 128)
    far = "l_" if side[J["l_hip"], 2] > side[J["r_hip"], 2] else "r_"
    assert not r.visible[J[far + "hip"]] and not r.visible[J[far + "shoulder"]]


def test_render_pose_rejects_bad_input():
    camera = np.array([170.0, 170.0, 63.5, 63.5])
    with pytest.raises(ValueError, match="16, 3"):
        render_pose(np.zeros((17, 3)), camera, 64)
    with pytest.raises(ValueError, match="in front of the camera"):
        render_pose(_standing_in_front(0.0) - [0, 0, 5000.0], camera, 64)


# ----------------------------------------------------------------------------- samples

def test_head_size_hand_computed():
    joints = np.zeros((16, 3))
    joints[:, 2] = 2000.0
    joints[J["head_top"]] = [0.0, -100.0, 2000.0]
    joints[J["upper_neck"]] = [0.0, 100.0, 2000.0]  # a 200 mm head segment at 2 m, f = 1000 px
    assert head_size(joints, 1000.0) == pytest.approx(0.6 * np.sqrt(2) * 100.0)


def test_lab_plan_covers_actions_and_cameras():
    spec = split_specs(SyntheticConfig(lab_train_per_subject=120))[0]
    plans = [_lab_sample_plan(spec, i) for i in range(spec.num_samples)]
    assert {p[0] for p in plans} == set(range(5))
    assert {p[1] for p in plans} == set(range(len(LAB_ACTIONS)))
    assert [p[3] for p in plans[:8]] == [0, 1, 2, 3, 0, 1, 2, 3]


@pytest.fixture(scope="module")
def samples():
    specs = split_specs(TINY)
    return {spec.dataset + "_" + spec.split: (spec, generate_samples(spec, 0, spec.num_samples, TINY.image_size,
                                                                        TINY.seed, with_masks=True))
            for spec in specs}


def test_generator_is_deterministic(samples):
    for spec, first in samples.values():
        again = generate_samples(spec, 0, spec.num_samples, TINY.image_size, TINY.seed, with_masks=True)
        for key in first:
            np.testing.assert_array_equal(first[key], again[key], err_msg=f"{spec.dataset} {key}")
        # A sample does not depend on where its chunk starts.
        tail = generate_samples(spec, 1, spec.num_samples, TINY.image_size, TINY.seed)
        np.testing.assert_array_equal(tail["images"], first["images"][1:])
    other = generate_samples(samples["mpii_train"][0], 0, 3, TINY.image_size, TINY.seed + 1)
    assert not np.array_equal(other["images"], samples["mpii_train"][1]["images"][:3])


def test_3d_labels_project_to_the_stored_2d_joints(samples):
    cameras = scenes.lab_cameras()
    for name in ("h36m_train", "h36m_test", "mpi_inf_3dhp_test"):
        _, s = samples[name]
        assert s["has_3d"].all() and np.isfinite(s["joints_3d"]).all()
        projected = project(s["joints_3d"], s["camera"])
        assert np.abs(projected - s["joints_2d"]).max() < 0.5
        np.testing.assert_allclose(s["root_depth"], s["joints_3d"][:, J["pelvis"], 2])
        assert (s["head_size"] > 0).all()
        if name.startswith("h36m"):
            # The stored crop camera is the lab camera's, cropped at the stored centre and side.
            for k in range(len(s["camera"])):
                expected = crop_camera(cameras[s["camera_id"][k]][0], s["crop_center"][k], s["crop_size"][k],
                                       TINY.image_size)
                np.testing.assert_allclose(s["camera"][k], expected, rtol=1e-4)


def test_visible_joints_lie_on_the_rendered_body(samples):
    total_visible = 0
    for spec, s in samples.values():
        assert not (s["visible"] & ~s["annotated"]).any()
        for k in range(len(s["images"])):
            mask = s["body_mask"][k]
            for j in np.flatnonzero(s["visible"][k]):
                u, v = np.round(s["joints_2d"][k, j]).astype(int)
                window = mask[max(v - 1, 0):v + 2, max(u - 1, 0):u + 2]
                assert window.any(), f"{spec.dataset} sample {k}: visible {JOINT_NAMES[j]} off the body"
                total_visible += 1
    assert total_visible > 0.6 * sum(s["visible"].size for _, s in samples.values())


def test_wild_files_have_2d_labels_only(samples):
    for name in ("mpii_train", "mpii_valid"):
        _, s = samples[name]
        assert np.isnan(s["joints_3d"]).all() and not s["has_3d"].any()
        assert np.isnan(s["camera"]).all() and np.isnan(s["root_depth"]).all()
        assert np.isfinite(s["joints_2d"]).all()
        assert (s["annotated"].sum(1) >= MIN_ANNOTATED).all()
        assert np.isfinite(s["head_size"]).all() and (s["head_size"] > 0).all()
        # Annotated joints lie inside the crop; the ones outside it are not annotated.
        inside = ((s["joints_2d"] > -0.5) & (s["joints_2d"] < TINY.image_size - 0.5)).all(-1)
        assert not (s["annotated"] & ~inside).any()
    _, cross = samples["mpi_inf_3dhp_test"]
    assert set(cross["action"]) <= set(range(len(ACTIVITY_NAMES)))
    # The validation split has subjects of its own: other bodies than the test subjects'.
    _, valid = samples["mpi_inf_3dhp_valid"]
    assert set(valid["action"]) <= set(range(len(ACTIVITY_NAMES)))
    assert not np.isin(valid["joints_3d"][:, :, 1].round(3), cross["joints_3d"][:, :, 1].round(3)).all()


def test_write_benchmark_files_and_worker_independence(tmp_path):
    one = write_benchmark(tmp_path / "one", TINY, params={"note": "test"})
    two = write_benchmark(tmp_path / "two", SyntheticConfig(**{**TINY.__dict__, "workers": 2}))
    assert [p.name for p in one] == ["h36m_train.h5", "h36m_test.h5", "mpii_train.h5", "mpii_valid.h5", "mpii_valid3d.h5",
                                     "mpi_inf_3dhp_test.h5", "mpi_inf_3dhp_valid.h5"]
    for a, b in zip(one, two):
        attrs = validate(a)
        assert attrs["source"] == "synthetic" and attrs["image_size"] == TINY.image_size
        with h5py.File(a) as fa, h5py.File(b) as fb:
            for key in fa:
                np.testing.assert_array_equal(fa[key][()], fb[key][()], err_msg=f"{a.name} {key}")
    arrays, attrs = read_prepared(one[0])
    assert attrs["subject_names"] == ["S1", "S5", "S6", "S7", "S8"] and attrs["action_names"] == LAB_ACTIONS
    assert attrs["params"]["note"] == "test" and len(attrs["camera_names"]) == 4
    _, attrs = read_prepared(one[5])
    assert attrs["action_names"] == ACTIVITY_NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no temporary folders left


def test_write_benchmark_leaves_old_output_on_failure(tmp_path, monkeypatch):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    import posegan.data.synthetic.benchmark as benchmark

    original = benchmark.generate_samples

    def failing(spec, start, stop, *args, **kwargs):
        if spec.dataset == "mpii":
            raise RuntimeError("simulated crash")
        return original(spec, start, stop, *args, **kwargs)

    monkeypatch.setattr(benchmark, "generate_samples", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_benchmark(out, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]


SYNTHETIC = {"seed": 0, "lab_train_per_subject": 1000, "lab_test_per_subject": 500, "wild_train": 5000,
             "wild_valid": 1000, "cross_test": 1050, "cross_valid": 350, "workers": 2}
DATA = {"source": "synthetic", "prepared_dir": "data/prepared", "image_size": 128,
        "synthetic": SYNTHETIC, "real": DEFAULT_REAL}


def test_config_from_params_names_the_bad_parameter():
    data = DataSettings.from_section({**DATA, "image_size": 64, "synthetic": {**SYNTHETIC, "wild_train": 3}},
                                     "params.yaml")
    assert data.synthetic.wild_train == 3
    assert data.synthetic.image_size == 64          # the crop side comes from data.image_size

    def synthetic(**changes):
        return {**DATA, "synthetic": {**SYNTHETIC, **changes}}

    for block, name in ((synthetic(wild_train=0), "data.synthetic.wild_train"),
                        (synthetic(lab_test_per_subject=-2), "data.synthetic.lab_test_per_subject"),
                        ({**DATA, "image_size": 0}, "data.image_size"),
                        (synthetic(workers=1.5), "data.synthetic.workers"),
                        (synthetic(seed=-1), "data.synthetic.seed"),
                        (synthetic(wild_trian=5), "data.synthetic.wild_trian"),
                        (synthetic(image_size=64), "data.synthetic.image_size")):   # set by data.image_size
        with pytest.raises(ParamsError, match="params.yaml: .*" + name.replace(".", r"\.")):
            DataSettings.from_section(block, "params.yaml")
    missing = {k: v for k, v in SYNTHETIC.items() if k != "cross_valid"}
    with pytest.raises(ParamsError, match=r"data\.synthetic\.cross_valid is missing"):
        DataSettings.from_section({**DATA, "synthetic": missing}, "params.yaml")


def test_front_cues_show_at_the_front_only_and_are_mirror_symmetric():
    look = Appearance(shirt=(0.1, 0.1, 0.5), shirt_front=(0.95, 0.9, 0.8), shoes=(0.1, 0.1, 0.1),
                      toe_caps=(0.95, 0.95, 0.95))
    camera = np.array([170.0, 170.0, 63.5, 63.5])
    front, back = (render_pose(_standing_in_front(yaw), camera, 128, appearance=look, light=FLAT)
                   for yaw in (0.0, 180.0))
    joints = _standing_in_front(0.0)
    # The chest's centre: the light front panel from the front, the plain shirt from the back.
    chest = joints[J["thorax"]] + 0.45 * (joints[J["pelvis"]] - joints[J["thorax"]])
    u, v = np.round(project(chest[None], camera)[0]).astype(int)
    np.testing.assert_allclose(front.image[v, u] / 255.0, look.shirt_front, atol=0.06)
    np.testing.assert_allclose(back.image[v, u] / 255.0, look.shirt, atol=0.06)
    assert (front.image[front.body_mask] > 200).all(1).sum() > 3 * (back.image[back.body_mask] > 200).all(1).sum()
    # A symmetric pose seen straight from the front or the back renders mirror-symmetric:
    # no cue tells the person's left from their right.
    for r in (front, back):
        mask = r.body_mask & r.body_mask[:, ::-1]
        assert mask.sum() > 500
        diff = np.abs(r.image.astype(int) - r.image[:, ::-1].astype(int)).max(-1)[mask]
        assert np.mean(diff > 40) < 0.02, np.mean(diff > 40)
    # Cues off: the earlier look (plain shirt front).
    plain = render_pose(joints, camera, 128, appearance=dataclasses.replace(look, front_cues=False), light=FLAT)
    np.testing.assert_allclose(plain.image[v, u] / 255.0, look.shirt, atol=0.06)


def test_sampled_front_cues_contrast_with_the_clothes():
    rng = np.random.default_rng(7)
    lum = lambda c: float(np.dot(c, (0.299, 0.587, 0.114)))  # noqa: E731
    for _ in range(50):
        look = sample_appearance(rng)
        assert look.front_cues
        assert abs(lum(look.shirt_front) - lum(look.shirt)) >= 0.35 - 1e-9
        assert abs(lum(look.toe_caps) - lum(look.shoes)) > 0.25
