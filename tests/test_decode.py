import numpy as np
import pytest
import torch

from posegan.heatmaps import decode_heatmaps, gaussian_heatmaps, soft_argmax


def known_peaks(seed=0, shape=(3, 16), size=32, margin=4.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(margin, size - 1 - margin, size=(*shape, 2)).astype(np.float32)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_decode_recovers_subpixel_gaussian_peaks(sigma):
    joints = known_peaks()
    maps = gaussian_heatmaps(joints, 32, sigma=sigma)
    coords, maxvals = decode_heatmaps(maps)
    assert isinstance(coords, np.ndarray) and coords.shape == (3, 16, 2) and maxvals.shape == (3, 16)
    np.testing.assert_allclose(coords, joints, atol=1e-3)
    np.testing.assert_allclose(maxvals, maps.reshape(3, 16, -1).max(-1))
    # Far better than the argmax alone (up to 0.5 px per axis).
    assert np.abs(np.round(joints) - joints).max() > 0.3


def test_decode_torch_in_torch_out_and_scale_invariance():
    joints = known_peaks(1, shape=(2, 5), size=64)
    maps = torch.from_numpy(gaussian_heatmaps(joints, 64)) * 0.3   # a weak but clean prediction
    coords, maxvals = decode_heatmaps(maps)
    assert isinstance(coords, torch.Tensor) and coords.shape == (2, 5, 2)
    torch.testing.assert_close(coords, torch.from_numpy(joints), atol=1e-3, rtol=0)
    assert torch.all(maxvals < 0.31)


def test_decode_falls_back_to_quarter_pixel_and_no_shift_at_border():
    maps = np.zeros((1, 3, 5, 5), np.float32)
    # Joint 0: max at (x=2, y=1); left neighbour negative -> quarter pixel toward the right
    # (the larger neighbour); vertically 0.5 above and 0.2 below, both positive -> parabola.
    maps[0, 0, 1, 2], maps[0, 0, 1, 1], maps[0, 0, 1, 3] = 1.0, -0.1, 0.4
    maps[0, 0, 0, 2], maps[0, 0, 2, 2] = 0.5, 0.2
    # Joint 1: max at the border (x=0, y=4): no shift on either axis that touches the border;
    # x has no left neighbour, y has no lower one.
    maps[0, 1, 4, 0], maps[0, 1, 4, 1], maps[0, 1, 3, 0] = 1.0, 0.9, 0.9
    # Joint 2: equal neighbours -> no shift.
    maps[0, 2, 2, 2], maps[0, 2, 2, 1], maps[0, 2, 2, 3], maps[0, 2, 1, 2], maps[0, 2, 3, 2] = 1, .5, .5, .5, .5
    coords, maxvals = decode_heatmaps(maps)
    ll, lc, lr = np.log([0.5, 1.0, 0.2])
    dy = (ll - lr) / (2 * (ll - 2 * lc + lr))           # vertex of the log-parabola
    np.testing.assert_allclose(coords[0, 0], [2.25, 1 + dy], atol=1e-6)
    assert -0.5 < dy < 0   # pulled toward the larger (upper) neighbour
    np.testing.assert_allclose(coords[0, 1], [0.0, 4.0])
    np.testing.assert_allclose(coords[0, 2], [2.0, 2.0])
    np.testing.assert_allclose(maxvals[0], [1.0, 1.0, 1.0])


def test_decode_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., P, H, W\)"):
        decode_heatmaps(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="heatmaps"):
        decode_heatmaps([[0.0]])


def test_soft_argmax_recovers_gaussian_peaks():
    joints = known_peaks(2, shape=(4, 16), size=64, margin=4)
    maps = torch.from_numpy(gaussian_heatmaps(joints, 64))
    xy = soft_argmax(maps)
    assert xy.shape == (4, 16, 2)
    torch.testing.assert_close(xy, torch.from_numpy(joints), atol=4e-3, rtol=0)
    torch.testing.assert_close(soft_argmax(maps, window=4), torch.from_numpy(joints), atol=2e-4, rtol=0)


def test_soft_argmax_ignores_background_and_negative_values():
    joints = np.array([[[10.3, 20.6]]], np.float32)
    maps = torch.from_numpy(gaussian_heatmaps(joints, 32))
    noisy = maps.clone()
    noisy[..., 0:4, 28:32] += 0.3      # a far-away blob, lower than the peak
    noisy[..., 17, 13] = -0.5           # a negative value inside the window is ignored
    assert maps[0, 0, 17, 13] < 1e-4
    torch.testing.assert_close(soft_argmax(noisy), torch.from_numpy(joints), atol=4e-3, rtol=0)
    # A map with nothing positive gives its maximum's position.
    empty = torch.full((1, 1, 8, 8), -1.0)
    empty[0, 0, 5, 3] = -0.5
    torch.testing.assert_close(soft_argmax(empty), torch.tensor([[[3.0, 5.0]]]))


def test_soft_argmax_is_differentiable_in_the_heatmap_values():
    joints = np.array([[[6.2, 9.7], [12.0, 3.4]]], np.float32)
    maps = torch.from_numpy(gaussian_heatmaps(joints, 16)).requires_grad_(True)
    xy = soft_argmax(maps)
    xy[0, 0, 0].backward()
    grad = maps.grad[0, 0]
    # Raising a pixel right of the centroid moves x right; left of it, left.
    assert grad[10, 8] > 0 and grad[10, 4] < 0
    assert maps.grad[0, 1].abs().sum() == 0             # other joints are untouched
    assert grad[0, 15] == 0                             # outside the window
