"""runtime.compile: a compiled generator gives the eager loss and gradients, and a compiled run
that is killed resumes to the same weights as an unbroken one. Skipped where torch.compile cannot
build (no C++ compiler).

Compiling is most of this module's time (a cold compile of the generator's training graph takes
a minute or more on a 2-core CPU). Both tests compile the same graph, test_training.MODEL in
training mode on a batch of 4 uint8 (B, 3, 64, 64) images, forward and backward, so the second
takes the first's kernels from inductor's cache instead of compiling its own; each still passes
or fails on its own when run alone.
"""

from dataclasses import replace

import pytest
import torch

from posegan.device import compiled
from posegan.losses import pose_loss
from posegan.models import Generator, normalize_images
from posegan.train.session import TrainingSession
from test_training import MODEL


def compile_works() -> bool:
    try:
        return bool(torch.compile(lambda x: x * 2 + 1)(torch.ones(2)).sum() == 6)
    except Exception:  # noqa: BLE001 - any failure to build means: not on this machine
        return False


@pytest.fixture(scope="module", autouse=True)
def compile_builds():
    """Checked when the first test here runs, not at collection: every pytest process (each
    pytest-xdist worker too) collects this module, and the check costs a first compile."""
    if not compile_works():
        pytest.skip("torch.compile cannot build here")


def test_compiled_and_eager_give_the_same_loss_and_gradients_on_a_fixed_batch():
    torch.manual_seed(0)
    generator = Generator.build(MODEL).train()
    images = normalize_images(torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8))
    target = torch.rand(4, 16, 16, 16)
    depth = torch.randn(4, 16)

    def loss_and_gradients(net):
        generator.zero_grad(set_to_none=True)
        out = net(images)
        loss = pose_loss(out.heatmaps, out.depth, target, depth).total
        loss.backward()
        return loss.detach(), {name: p.grad.clone() for name, p in generator.named_parameters()}

    loss_eager, grads_eager = loss_and_gradients(generator)
    loss_fast, grads_fast = loss_and_gradients(compiled(generator, True))
    assert torch.allclose(loss_eager, loss_fast, rtol=1e-4, atol=1e-6)
    # The gradients as one vector: per tensor they are not comparable, the conv biases that a batch
    # norm follows get pure rounding noise (their true gradient is 0). Fused kernels sum in
    # another order than eager, which training-mode batch norm amplifies to ~1e-3 here; a
    # compiled module that missed parameters or got its backward wrong is off by order 1.
    assert grads_eager.keys() == grads_fast.keys()
    eager_vector = torch.cat([g.flatten() for g in grads_eager.values()])
    fast_vector = torch.cat([grads_fast[name].flatten() for name in grads_eager])
    assert (fast_vector - eager_vector).norm() < 1e-2 * eager_vector.norm()
    assert compiled(generator, False) is generator


def test_a_resumed_compiled_run_equals_an_unbroken_one(tmp_path, monkeypatch):
    from fakes import write_fake_prepared
    from posegan.train.pretrain_depth import pretrain_depth
    from posegan.train.loop_setup import StageOutputs
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
