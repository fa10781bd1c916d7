import numpy as np
import pytest
import torch

from fakes import write_fake_prepared
from posegan.data.dataset import PoseDataset
from posegan.heatmaps import soft_argmax
from posegan.losses import Reduction, adversarial_loss
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.models.discriminator import DiscriminatorSettings
from posegan.report.critic_gradient import critic_2d_descent, critic_depth_descent, descent_alignment


def test_descent_alignment_by_hand():
    """Sample 1: descent (1, 0) along error (2, 0): cosine 1. Sample 2: descent (-1, -1) against
    error (1, -1): cosine 0; its second joint agrees. Sample 3 has no error and is left out.
    |error|-weighted agreement: (2 + 1) of (2 + 1 + 1)."""
    descent = np.array([[1.0, 0.0], [-1.0, -1.0], [3.0, 1.0]])
    error = np.array([[2.0, 0.0], [1.0, -1.0], [0.0, 0.0]])
    result = descent_alignment(descent, error)
    assert result["samples"] == 2
    assert result["cosine"] == pytest.approx(0.5)
    assert result["towards_truth"] == pytest.approx(0.5)
    assert result["joint_agreement"] == pytest.approx(3 / 4)
    assert descent_alignment(-descent[:1], error[:1])["cosine"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match=r"\(N, P\)"):
        descent_alignment(descent, error[:, :1])


def tiny_critic_setup(tmp_path):
    """Six fake lab test samples (64 px), a one-stack generator and a small kcs critic."""
    paths = write_fake_prepared(tmp_path, n=6, size=64)
    dataset = PoseDataset(next(p for p in paths if p.name == "h36m_test.h5"))
    torch.manual_seed(0)
    generator = Generator(num_stacks=1, num_blocks=1, num_features=8)
    settings = DiscriminatorSettings(sources=("kcs",), pose_scale="projected", embed_dim=8, hidden_dim=8)
    discriminator = MultiSourceDiscriminator.build(settings, 16, dataset.image_size, dataset.heatmap_size)
    return dataset, generator, discriminator


def own_rows_and_the_truth_moves_only_the_descent(probe, models_and_data, indices, out, truth_option, prediction):
    """`probe` scored on the last index alone gives that index's row of `out` (a batch of 2); with
    `truth_option` (D shown a true part of the pose) the `prediction` is the same and the descent
    is not."""
    one = probe(*models_and_data, indices[-1:], "wasserstein")
    np.testing.assert_allclose(one["descent"], out["descent"][-1:], rtol=1e-4, atol=1e-5)
    truth = probe(*models_and_data, indices, "wasserstein", batch_size=2, **truth_option)
    np.testing.assert_array_equal(truth[prediction], out[prediction])
    assert not np.allclose(truth["descent"], out["descent"])


def test_critic_depth_descent_is_each_samples_own_gradient(tmp_path):
    """The descent of a sample is minus the gradient of its own L_adv (D sees no other sample):
    scored alone, a sample gets the row it gets in a batch; the true 2D changes the descent,
    not the predicted depths."""
    dataset, generator, discriminator = tiny_critic_setup(tmp_path)
    indices = np.arange(5)
    out = critic_depth_descent(generator, discriminator, dataset, indices, "wasserstein", batch_size=2)
    assert out["descent"].shape == out["depth"].shape == out["true_depth"].shape == (5, 16)
    assert np.abs(out["descent"]).sum() > 0
    own_rows_and_the_truth_moves_only_the_descent(critic_depth_descent, (generator, discriminator, dataset),
                                                  indices, out, {"fake_2d": "truth"}, "depth")


def test_critic_2d_descent_is_where_a_small_step_down_l_adv_moves_the_joints(tmp_path):
    """A step of size eps down L_adv's heatmap gradient moves each joint by eps x its descent (to
    first order); the descent is each sample's own; D shown the true depths gives the same joints
    and another descent."""
    dataset, generator, discriminator = tiny_critic_setup(tmp_path)
    indices = np.arange(4)
    out = critic_2d_descent(generator, discriminator, dataset, indices, "wasserstein", batch_size=2)
    assert out["descent"].shape == out["xy"].shape == out["true_xy"].shape == (4, 16, 2)
    assert out["annotated"].shape == (4, 16) and out["annotated"].dtype == bool
    assert np.abs(out["descent"]).sum() > 0

    items = [dataset[int(i)] for i in indices]
    images = normalize_images(torch.stack([item["image"] for item in items]))
    generator.eval()
    discriminator.eval()
    with torch.no_grad():
        predicted = generator(images)
    heatmaps = predicted.heatmaps[-1].float().requires_grad_(True)
    loss = adversarial_loss(discriminator(images, heatmaps, predicted.depth), Reduction.SUM, "wasserstein")
    (gradient,) = torch.autograd.grad(loss, heatmaps)
    scale = float(np.abs(out["descent"]).max())
    eps = 1e-2 / scale          # a step that moves the farthest-moving joint by 0.01 px
    with torch.no_grad():
        before = soft_argmax(heatmaps, discriminator.soft_argmax_window)
        after = soft_argmax(heatmaps - eps * gradient, discriminator.soft_argmax_window)
    np.testing.assert_allclose(before.numpy(), out["xy"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(((after - before) / eps).numpy(), out["descent"], rtol=0, atol=2e-2 * scale)

    own_rows_and_the_truth_moves_only_the_descent(critic_2d_descent, (generator, discriminator, dataset),
                                                  indices, out, {"depths": "truth"}, "xy")
    with pytest.raises(ValueError, match="depths"):
        critic_2d_descent(generator, discriminator, dataset, indices, "wasserstein", depths="flat")


def test_script_prints_one_row_per_run_and_validation_split(tmp_path):
    import subprocess
    import sys

    import yaml

    from fakes import REPO
    from posegan.model_file import model_payload
    from posegan.models.generator import ModelSettings

    write_fake_prepared(tmp_path / "prepared", n=8, size=64)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["prepared_dir"] = "prepared"
    params["discriminator"].update(sources=["kcs"], pose_scale="projected", objective="wasserstein")
    params["adversarial"]["fake_2d"] = "truth"
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    (run / "params.yaml").write_text(yaml.safe_dump(params))
    settings = DiscriminatorSettings(sources=("kcs",), pose_scale="projected", objective="wasserstein",
                                     embed_dim=params["discriminator"]["embed_dim"],
                                     hidden_dim=params["discriminator"]["hidden_dim"])
    model = ModelSettings(num_stacks=1, num_blocks=1, num_features=8)
    torch.manual_seed(0)
    discriminator = MultiSourceDiscriminator.build(settings, 16, 64, 16)
    torch.save(model_payload(Generator.build(model), model, "adversarial", 1, 64, discriminator),
               run / "models/adversarial.pt")
    script = [sys.executable, str(REPO / "scripts/critic_gradient.py")]
    result = subprocess.run(script + ["run", "--out", "t.csv"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and "joint_agreement" in lines[0] and "mpii_3d" in lines[1]  # the fake data's 3D split
    assert (tmp_path / "t.csv").read_text().count("\n") == 2
    other = tmp_path / "other.pt"
    torch.manual_seed(1)
    torch.save(model_payload(Generator.build(model), model, "pretrain_depth", 1, 64), other)
    pretrained = subprocess.run(script + ["run", "--generator", str(other)], capture_output=True, text=True,
                                cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr
    assert "other.pt" in pretrained.stdout and pretrained.stdout.splitlines()[1] != lines[1]
    params["adversarial"]["fake_2d"] = "predicted"
    (run / "params.yaml").write_text(yaml.safe_dump(params))
    two_d = subprocess.run(script + ["run", "--joints", "2d"], capture_output=True, text=True, cwd=tmp_path)
    assert two_d.returncode == 0, two_d.stderr
    rows = two_d.stdout.splitlines()[1:]
    assert len(rows) == 2 and "predicted" in rows[0] and "truth" in rows[1]
    torch.save(model_payload(Generator.build(model), model, "adversarial", 1, 64), run / "models/adversarial.pt")
    baseline = subprocess.run(script + ["run"], capture_output=True, text=True, cwd=tmp_path)
    assert baseline.returncode != 0 and "no discriminator" in baseline.stderr
