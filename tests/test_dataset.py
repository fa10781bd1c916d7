import numpy as np
import pytest
import torch

from posegan.camera import depth_target, project
from posegan.data.dataset import Augmentation, IterationSampler, PoseDataset, augment, make_loader
from posegan.data.schema import PreparedWriter
from posegan.heatmaps import crop_to_heatmap
from posegan.settings import ParamsError, build


def dot_image(joints_crop, size):
    """An image with a distinct bright dot under each of the first joints."""
    image = np.zeros((size, size, 3), np.uint8)
    for j, (x, y) in enumerate(np.clip(np.round(joints_crop).astype(int), 1, size - 2)):
        image[y - 1 : y + 2, x - 1 : x + 2] = (255, 15 * j, 0)
    return image


@pytest.fixture
def prepared(tmp_path):
    rng = np.random.default_rng(0)
    n, size = 6, 64
    cam = np.array([200.0, 200.0, 31.5, 31.5], np.float32)
    joints_3d = np.array([0.0, 0.0, 4000.0]) + rng.normal(scale=300, size=(n, 16, 3))
    joints_2d = project(joints_3d, cam).astype(np.float32)
    path = tmp_path / "h36m_train.h5"
    with PreparedWriter(path, n, size, dataset="h36m", split="train", source="synthetic") as w:
        w.write(slice(None), images=np.stack([dot_image(j, size) for j in joints_2d]),
                joints_2d=joints_2d, joints_3d=joints_3d.astype(np.float32),
                has_3d=np.array([True] * 4 + [False] * 2), annotated=np.ones((n, 16), bool),
                camera=np.tile(cam, (n, 1)), root_depth=joints_3d[:, 6, 2].astype(np.float32))
    return path, joints_2d, joints_3d, cam


def test_items_without_augmentation(prepared):
    path, joints_2d, joints_3d, cam = prepared
    ds = PoseDataset(path)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.uint8
    assert item["heatmaps"].shape == (16, 16, 16)
    np.testing.assert_allclose(item["joints_2d"], crop_to_heatmap(joints_2d[0], 4), atol=1e-5)
    np.testing.assert_allclose(item["depth"], depth_target(joints_3d[0], cam, 4), atol=1e-4)
    assert item["has_3d"] and not ds[5]["has_3d"] and (ds[5]["depth"] == 0).all()
    # Joints off the heatmap are masked out of the loss.
    inside = ((item["joints_2d"] > -0.5) & (item["joints_2d"] < 15.5)).all(1)
    assert torch.equal(item["annotated"], inside)


def test_augmentation_moves_labels_with_the_image():
    size, stride = 64, 4
    rng = np.random.default_rng(3)
    joints_crop = rng.uniform(16, 48, size=(16, 2))
    image = dot_image(joints_crop[:1], size)  # one red dot under joint 0 (r_ankle)
    joints = crop_to_heatmap(joints_crop, stride).astype(np.float32)
    depth = rng.normal(size=16).astype(np.float32)
    aug = Augmentation(rotation=30, rotation_prob=1.0, scale=(0.8, 1.2), flip=1.0, color=0.0)
    out_image, out_joints, out_depth, _ = augment(image, joints, depth, np.ones(16, bool), stride, aug,
                                                   np.random.default_rng(7))
    # After a flip joint 0 became the left ankle (index 5): the dot must lie under it.
    red = out_image[..., 0].astype(float)
    ys, xs = np.nonzero(red > 60)
    centroid = np.array([np.average(xs, weights=red[ys, xs]), np.average(ys, weights=red[ys, xs])])
    label = (out_joints[5] + 0.5) * stride - 0.5
    np.testing.assert_allclose(centroid, label, atol=0.7)
    # Depth is scaled with the image and permuted with the joints.
    ratio = out_depth[5] / depth[0]
    assert 0.8 <= ratio <= 1.2
    np.testing.assert_allclose(out_depth[0] / depth[5], ratio, rtol=1e-5)


def test_sampler_is_a_function_of_the_iteration():
    full = list(IterationSampler(10, 4, seed=3, start=0, stop=8))
    resumed = list(IterationSampler(10, 4, seed=3, start=5, stop=8))
    assert resumed == full[5:]
    # Epochs are permutations: the first 10 entries cover every index once.
    flat = [i for batch in full for i, _ in batch]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert full != list(IterationSampler(10, 4, seed=4, start=0, stop=8))


def test_loader_is_deterministic_across_worker_counts(prepared):
    path = prepared[0]
    ds = PoseDataset(path, augmentation=Augmentation())
    a = [b["heatmaps"] for b in make_loader(ds, 3, seed=1, start=0, stop=3, workers=0)]
    b = [b["heatmaps"] for b in make_loader(ds, 3, seed=1, start=0, stop=3, workers=2)]
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


AUGMENTATION = {"rotation": 30, "rotation_prob": 0.5, "scale": [0.75, 1.25], "flip": 0.5, "color": 0.2}


def augmentation(values: dict) -> Augmentation:
    return build(Augmentation, values, "pretrain_2d.augmentation", "params.yaml")


def test_augmentation_params_are_checked():
    assert augmentation(AUGMENTATION).active == Augmentation()      # enabled unless said otherwise
    assert augmentation({**AUGMENTATION, "enabled": False, "rotation": 10}).active is None
    assert augmentation({**AUGMENTATION, "scale": [0.9, 1.1]}).scale == (0.9, 1.1)
    with pytest.raises(ParamsError, match="params.yaml: pretrain_2d.augmentation.rotation is missing"):
        augmentation({})
    with pytest.raises(ParamsError, match="unknown key pretrain_2d.augmentation.rotaton"):
        augmentation({**AUGMENTATION, "rotaton": 10})
    with pytest.raises(ParamsError, match=r"pretrain_2d.augmentation.flip must be in \[0, 1\]"):
        augmentation({**AUGMENTATION, "flip": 1.5})
    with pytest.raises(ParamsError, match="min <= max"):
        augmentation({**AUGMENTATION, "scale": [1.25, 0.75]})
