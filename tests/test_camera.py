import numpy as np
import pytest

from posegan import camera
from posegan.heatmaps import crop_to_heatmap, gaussian_heatmaps, heatmap_to_crop


def random_pose(rng, n=1):
    """(n, 16, 3) poses in camera mm: a person ~4 m in front of the camera."""
    root = np.array([rng.uniform(-300, 300), rng.uniform(-200, 200), rng.uniform(3500, 5500)])
    return root + rng.normal(scale=400.0, size=(n, 16, 3))


def test_project_hand_case():
    cam = np.array([1000.0, 1000.0, 500.0, 400.0])
    pts = np.array([[0.0, 0.0, 2000.0], [200.0, -100.0, 2000.0]])
    # u = fx * x / z + cx: 1000 * 200 / 2000 + 500 = 600; v = 1000 * -100 / 2000 + 400 = 350.
    np.testing.assert_allclose(camera.project(pts, cam), [[500, 400], [600, 350]])


def test_backproject_inverts_project():
    rng = np.random.default_rng(0)
    pts = random_pose(rng, 4)
    cams = np.array([[1145.0, 1143.8, 512.5, 515.4]] * 4)
    uv = camera.project(pts, cams)
    np.testing.assert_allclose(camera.backproject(uv, pts[..., 2], cams), pts, atol=1e-9)


def test_crop_maps_are_inverse_and_consistent_with_the_crop_camera():
    rng = np.random.default_rng(1)
    pts = random_pose(rng, 3)
    cam = np.array([1145.0, 1145.0, 500.0, 500.0])
    uv = camera.project(pts, cam)  # original image pixels
    center = np.array([[520.0, 480.0], [300.0, 700.0], [511.3, 499.1]])
    size = np.array([400.0, 250.0, 333.3])
    crop_uv = camera.original_to_crop(uv, center, size, 256)
    np.testing.assert_allclose(camera.crop_to_original(crop_uv, center, size, 256), uv, atol=1e-9)
    crop_cam = camera.crop_camera(np.broadcast_to(cam, (3, 4)), center, size, 256)
    np.testing.assert_allclose(camera.project(pts, crop_cam), crop_uv, atol=1e-9)


def test_crop_image_agrees_with_the_point_map():
    # A bright pixel at (col 30, row 20) of a 100 x 100 image, cropped at 2x magnification.
    image = np.zeros((100, 100, 3), np.uint8)
    image[20, 30] = 255
    center, size = np.array([32.0, 24.0]), 16.0
    crop = camera.crop_image(image, center, size, 32)
    expected = camera.original_to_crop(np.array([[30.0, 20.0]]), center, size, 32)[0]
    rows, cols = np.nonzero(crop[..., 0])
    weights = crop[rows, cols, 0].astype(float)
    centroid = np.array([np.average(cols, weights=weights), np.average(rows, weights=weights)])
    np.testing.assert_allclose(centroid, expected, atol=0.3)


def test_pose_round_trip_through_crop_2d_and_depth_target_is_exact():
    """3D pose -> (crop 2D, depth target) -> 3D pose in mm, within 1e-3 mm."""
    rng = np.random.default_rng(2)
    for stride in (4, 2):
        pts = random_pose(rng, 8)
        cam = np.array([1145.0, 1140.0, 512.0, 515.0])
        uv = camera.project(pts, cam)
        center = uv.mean(axis=1)
        size = np.full(8, 420.0)
        crop_cam = camera.crop_camera(np.broadcast_to(cam, (8, 4)), center, size, 256)
        joints_2d = camera.original_to_crop(uv, center, size, 256)
        target = camera.depth_target(pts, crop_cam, stride)
        root_depth = pts[:, 6, 2]
        back = camera.pose_from_prediction(joints_2d, target, root_depth, crop_cam, stride)
        assert np.abs(back - pts).max() < 1e-3
        # Also through float32 storage, as in the prepared files (sub-millimetre).
        back32 = camera.pose_from_prediction(joints_2d.astype(np.float32), target.astype(np.float32),
                                             root_depth.astype(np.float32), crop_cam.astype(np.float32), stride)
        assert np.abs(back32 - pts).max() < 0.5


def test_depth_target_hand_case():
    # Root at 5000 mm, a joint 250 mm nearer, crop focal 1000 px, stride 4:
    # (4750 - 5000) * (1000 / 4) / 5000 = -12.5 heatmap pixels.
    pts = np.zeros((16, 3))
    pts[:, 2] = 5000.0
    pts[0, 2] = 4750.0
    target = camera.depth_target(pts, np.array([1000.0, 1000.0, 128.0, 128.0]), 4)
    assert target[0] == pytest.approx(-12.5) and target[6] == 0.0


def test_heatmap_coordinates_round_trip_and_centres():
    pts = np.array([[0.0, 0.0], [1.5, 1.5], [255.0, 127.3]])
    np.testing.assert_allclose(heatmap_to_crop(crop_to_heatmap(pts, 4), 4), pts)
    # The centre of heatmap pixel 0 is the centre of crop pixels 0..3, i.e. 1.5.
    np.testing.assert_allclose(crop_to_heatmap(np.array([1.5, 1.5]), 4), [0.0, 0.0])


def test_gaussian_heatmaps_peak_at_the_joints():
    joints = np.array([[[10.0, 20.0], [3.0, 5.0], [40.0, 40.0]]])
    maps = gaussian_heatmaps(joints, 32, sigma=1.0, annotated=np.array([[True, True, False]]))
    assert maps.shape == (1, 3, 32, 32) and maps.dtype == np.float32
    for j, (x, y) in enumerate(joints[0, :2]):
        row, col = np.unravel_index(np.argmax(maps[0, j]), (32, 32))
        assert (col, row) == (x, y) and maps[0, j, int(y), int(x)] == pytest.approx(1.0)
        # One pixel away the Gaussian with sigma 1 is exp(-1/2).
        assert maps[0, j, int(y), int(x) + 1] == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert maps[0, 2].max() == 0.0  # not annotated
