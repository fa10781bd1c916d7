"""The discriminator probe: one row per source set, accuracies by group, and the script end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from fakes import write_fake_prepared
from posegan.data.dataset import PoseDataset
from posegan.data.schema import prepared_path
from posegan.model_file import model_payload
from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.report.discriminator_probe import probe_discriminator

ROOT = Path(__file__).resolve().parents[1]
MODEL = ModelSettings(num_stacks=1, num_blocks=1, num_features=8)


def test_probe_trains_one_discriminator_per_variant(tmp_path):
    write_fake_prepared(tmp_path, n=12, size=64)
    lab = PoseDataset(prepared_path(tmp_path, "h36m", "train"))
    wild = PoseDataset(prepared_path(tmp_path, "mpii", "train"))
    torch.manual_seed(0)
    generator = Generator.build(MODEL)
    cross = PoseDataset(prepared_path(tmp_path, "mpi_inf_3dhp", "test"))
    table = probe_discriminator(generator, lab, wild, samples=12, steps=30, batch_size=4, lr=2e-3,
                                variants=[["image"], ["geo"], ["maps"], "full"], width=4, embed_dim=8, hidden_dim=8,
                                maps_from="heatmaps", held_out={"cross": cross})
    assert list(table["sources"]) == ["image", "geo", "maps", "image+geo+maps"]
    groups = ["real_lab", "fake_lab", "fake_wild", "true_cross", "fake_cross"]
    shares = table[groups].to_numpy()
    assert ((shares >= 0) & (shares <= 1)).all()
    # An untrained generator's raw maps are nothing like Gaussians: the maps branch calls them fake,
    # on the held-out cross-domain images too, and passes real lab poses and the held-out set's true poses.
    maps = table.set_index("sources").loc["maps"]
    assert maps["fake_lab"] < 0.5 and maps["fake_wild"] < 0.5 and maps["fake_cross"] < 0.5
    assert maps["real_lab"] > 0.5 and maps["true_cross"] > 0.5
    again = probe_discriminator(generator, lab, wild, samples=12, steps=30, batch_size=4, lr=2e-3, variants=[["maps"]],
                                width=4, embed_dim=8, hidden_dim=8, maps_from="heatmaps")
    np.testing.assert_allclose(again.iloc[0]["final_loss"], maps["final_loss"], rtol=1e-5)   # seeded


def test_script_prints_the_table(tmp_path):
    write_fake_prepared(tmp_path / "prepared", n=8, size=64)
    generator = Generator.build(MODEL)
    torch.save(model_payload(generator, MODEL, "pretrain_depth", 1, 64), tmp_path / "g.pt")
    result = subprocess.run([sys.executable, str(ROOT / "scripts/diagnose_discriminator.py"), str(tmp_path / "g.pt"),
                             "--prepared-dir", str(tmp_path / "prepared"), "--samples", "8", "--steps", "2",
                             "--variant", "geo"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fake_wild" in result.stdout and "true_mpii_3d" in result.stdout and "geo" in result.stdout
