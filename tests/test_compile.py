"""runtime.compile: a compiled generator gives the eager loss, and a compiled run that is killed
resumes to the same weights as an unbroken one. Skipped where torch.compile cannot build
(no C++ compiler)."""

from dataclasses import replace

import pytest
import torch

from posegan.device import compiled
from posegan.losses import pose_loss
from posegan.models import Generator, normalize_images
from posegan.models.generator import ModelSettings
from posegan.train.session import TrainingSession


def compile_works() -> bool:
    try:
        return bool(torch.compile(lambda x: x * 2 + 1)(torch.ones(2)).sum() == 6)
    except Exception:  # noqa: BLE001 - any failure to build means: not on this machine
        return False


pytestmark = pytest.mark.skipif(not compile_works(), reason="torch.compile cannot build here")


def test_compiled_and_eager_give_the_same_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    generator = Generator.build(ModelSettings(num_stacks=1, num_blocks=1, num_features=8)).eval()
    images = normalize_images(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))
    target = torch.rand(2, 16, 16, 16)
    depth = torch.randn(2, 16)
    eager = generator(images)
    fast = compiled(generator, True)(images)
    loss_eager = pose_loss(eager.heatmaps, eager.depth, target, depth).total
    loss_fast = pose_loss(fast.heatmaps, fast.depth, target, depth).total
    assert torch.allclose(loss_eager, loss_fast, rtol=1e-4, atol=1e-6)
    assert compiled(generator, False) is generator


def test_a_resumed_compiled_run_equals_an_unbroken_one(tmp_path, monkeypatch):
    from fakes import write_fake_prepared
    from posegan.train.pretrain_depth import pretrain_depth
    from posegan.train.settings import StageOutputs
    from test_training import SETTINGS, job

    write_fake_prepared(tmp_path / "prepared", n=16, size=64)
    from posegan.train.pretrain_2d import pretrain_2d

    pretrain_2d(SETTINGS, job(tmp_path, "pretrain_2d"))
    init = tmp_path / "models/pretrain_2d.pt"

    def run(out):
        base = job(tmp_path, "pretrain_depth")
        stage_job = replace(base, runtime=replace(base.runtime, compile=True),
                            outputs=StageOutputs.for_stage("pretrain_depth", out))
        return pretrain_depth(SETTINGS, stage_job, init)

    run(tmp_path / "unbroken")
    original_log = TrainingSession.log

    def crash_after_four(self, iteration, *args, **kwargs):
        original_log(self, iteration, *args, **kwargs)
        if iteration == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingSession, "log", crash_after_four)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "broken")
    monkeypatch.setattr(TrainingSession, "log", original_log)
    run(tmp_path / "broken")
    a = torch.load(tmp_path / "unbroken/models/pretrain_depth.pt", weights_only=True)["generator"]
    b = torch.load(tmp_path / "broken/models/pretrain_depth.pt", weights_only=True)["generator"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
