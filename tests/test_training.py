"""Training loops on a tiny configuration: resume, fingerprints, NaN guard, variants."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fakes import write_fake_prepared
from posegan.data.dataset import Augmentation
from posegan.device import RuntimeSettings
from posegan.losses import LossSettings
from posegan.models.discriminator import DiscriminatorSettings
from posegan.models.generator import ModelSettings
from posegan.settings import ParamsError, build
from posegan.train import adversarial as adversarial_module
from posegan.train.adversarial import AdversarialSettings, adversarial, fake_heatmaps_2d, fake_selection
from posegan.train.checkpoint import NonFiniteError
from posegan.train.loop_setup import LoopSettings, StageOutputs, TrainingRun, learning_rate
from posegan.train.pretrain_2d import pretrain_2d
from posegan.train.pretrain_depth import pretrain_depth
from posegan.train.session import TrainingSession

MODEL = ModelSettings(num_stacks=1, num_blocks=1, num_features=16)
DISC = DiscriminatorSettings(sources="full", width=4, embed_dim=16, hidden_dim=16)
SETTINGS = LoopSettings(iterations=6, batch_size=4, lr=2.5e-4, log_every=1, val_every=3, checkpoint_every=2,
                        val_samples=4, workers=0, augmentation=Augmentation(rotation=30))
ADV = AdversarialSettings(**vars(SETTINGS), enabled=True, init="pretrain_depth", lambda_=0.1, lr_d=1e-3, d_steps=1)


def job(root, stage, model=MODEL, fingerprint="fp"):
    """The TrainingRun of `stage` on the fake data under `root` (CPU, the default loss)."""
    return TrainingRun(model=model, runtime=RuntimeSettings(device=torch.device("cpu"), amp=False), loss=LossSettings(),
                       prepared_dir=Path(root) / "prepared", seed=0,
                       outputs=StageOutputs.for_stage(stage, root), fingerprint=fingerprint, progress=False)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """Prepared fake data plus pretrain_2d and pretrain_depth models (shared by the tests)."""
    root = tmp_path_factory.mktemp("run")
    write_fake_prepared(root / "prepared", n=16, size=64)
    pretrain_2d(SETTINGS, job(root, "pretrain_2d"))
    pretrain_depth(SETTINGS, job(root, "pretrain_depth"), root / "models/pretrain_2d.pt")
    return root


def run_adversarial(root, out, options=ADV, model=MODEL, fingerprint="fp", init="pretrain_depth", disc=DISC):
    stage_job = replace(job(root, "adversarial", model, fingerprint), outputs=StageOutputs.for_stage("adversarial", out))
    return adversarial(options, disc, stage_job, root / f"models/{init}.pt")


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_stage_outputs_and_metrics(pretrained):
    payload = weights(pretrained / "models/pretrain_depth.pt")
    assert payload["stage"] == "pretrain_depth" and payload["iteration"] == 6
    assert any(k.startswith("depth_regressor.") for k in payload["generator"])
    import json
    metrics = json.loads((pretrained / "metrics/pretrain_depth.json").read_text())
    assert {"val_mpjpe_lab", "val_pckh_wild", "data_wait_share", "final_loss"} <= metrics.keys()
    assert (pretrained / "dvclive/pretrain_depth/plots/metrics/val/mpjpe_lab.tsv").exists()


def test_interrupted_run_resumes_to_the_same_weights(pretrained, tmp_path, monkeypatch):
    run_adversarial(pretrained, tmp_path / "unbroken")
    original_log = TrainingSession.log

    def crash_after_four(self, iteration, *args, **kwargs):
        original_log(self, iteration, *args, **kwargs)
        if iteration == 4:  # the last checkpoint is at 4 iterations done
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingSession, "log", crash_after_four)
    with pytest.raises(KeyboardInterrupt):
        run_adversarial(pretrained, tmp_path / "broken")
    assert not (tmp_path / "broken/models/adversarial.pt").exists()
    assert weights(tmp_path / "broken/checkpoints/adversarial/last.pt")["iteration"] == 4
    monkeypatch.setattr(TrainingSession, "log", original_log)

    resumed_from = []
    original_resume = TrainingSession.resume
    monkeypatch.setattr(TrainingSession, "resume",
                        lambda self, *a: resumed_from.append(original_resume(self, *a)) or resumed_from[-1])
    run_adversarial(pretrained, tmp_path / "broken")
    assert resumed_from == [4]
    # The whole curve, once: the steps logged before the kill came back with the checkpoint folder.
    curve = (tmp_path / "broken/dvclive/adversarial/plots/metrics/train/g_loss.tsv").read_text().splitlines()
    assert [int(line.split("\t")[0]) for line in curve[1:]] == [1, 2, 3, 4, 5, 6]
    a, b = weights(tmp_path / "unbroken/models/adversarial.pt"), weights(tmp_path / "broken/models/adversarial.pt")
    assert_same_state(a["generator"], b["generator"])
    assert_same_state(a["discriminator"], b["discriminator"])


def test_a_checkpoint_with_another_fingerprint_is_not_resumed(pretrained, tmp_path, monkeypatch):
    run_adversarial(pretrained, tmp_path, fingerprint="experiment-a")
    steps = []
    original_log = TrainingSession.log
    monkeypatch.setattr(TrainingSession, "log",
                        lambda self, iteration, *a, **k: steps.append(iteration) or original_log(self, iteration, *a, **k))
    run_adversarial(pretrained, tmp_path, fingerprint="experiment-b")
    assert steps == list(range(6))  # trained from scratch, not zero steps
    steps.clear()
    run_adversarial(pretrained, tmp_path, fingerprint="experiment-b")
    assert steps == []  # same fingerprint, finished checkpoint: nothing left to train


def test_non_finite_loss_stops_with_the_iteration_and_last_checkpoint(pretrained, tmp_path, monkeypatch):
    real_pose_loss = adversarial_module.pose_loss
    calls = []

    def poisoned(*args, **kwargs):
        loss = real_pose_loss(*args, **kwargs)
        calls.append(1)
        if len(calls) == 4:  # iteration 3 (0-based)
            return loss._replace(total=loss.total * float("nan"))
        return loss

    monkeypatch.setattr(adversarial_module, "pose_loss", poisoned)
    with pytest.raises(NonFiniteError, match=r"iteration 3.*last.pt at iteration 2"):
        run_adversarial(pretrained, tmp_path)
    assert not (tmp_path / "models/adversarial.pt").exists()
    state = weights(tmp_path / "checkpoints/adversarial/last.pt")
    assert all(torch.isfinite(v).all() for v in state["models"]["generator"].values() if v.is_floating_point())


def test_baseline_variant_has_no_discriminator(pretrained, tmp_path):
    metrics = run_adversarial(pretrained, tmp_path, options=replace(ADV, enabled=False))
    assert "discriminator" not in weights(tmp_path / "models/adversarial.pt")
    assert "final_d_loss" not in metrics and "val_mpjpe_lab" in metrics


def killed_then_resumed(monkeypatch, run, killed_after: int = 3) -> None:
    """Run `run()` killed (KeyboardInterrupt) once the session has logged iteration `killed_after`,
    then run it again, which resumes from the last checkpoint."""
    original_log = TrainingSession.log

    def crash(self, iteration, *args, **kwargs):
        original_log(self, iteration, *args, **kwargs)
        if iteration == killed_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingSession, "log", crash)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(TrainingSession, "log", original_log)
    run()


def test_the_symmetry_rule_trains_without_a_discriminator_and_resumes(pretrained, tmp_path, monkeypatch):
    """adversarial.symmetry_weight with enabled false: no D, the rule is logged, the generator
    ends elsewhere than the Baseline's, and a killed run resumes to the unbroken run's weights."""
    rule = replace(ADV, enabled=False, symmetry_weight=1.0, adversarial_samples="wild")
    metrics = run_adversarial(pretrained, tmp_path / "unbroken", options=rule)
    assert "final_symmetry_penalty" in metrics and "final_d_loss" not in metrics
    run_adversarial(pretrained, tmp_path / "base", options=replace(ADV, enabled=False))
    unbroken = weights(tmp_path / "unbroken/models/adversarial.pt")["generator"]
    base = weights(tmp_path / "base/models/adversarial.pt")["generator"]
    assert any(not torch.equal(unbroken[k], base[k]) for k in base)
    killed_then_resumed(monkeypatch, lambda: run_adversarial(pretrained, tmp_path / "broken", options=rule))
    assert_same_state(unbroken, weights(tmp_path / "broken/models/adversarial.pt")["generator"])


def test_rule_pose_keeps_out_of_reach_what_adversarial_gradient_says():
    heatmaps = torch.rand(2, 16, 8, 8, requires_grad=True)
    depth = torch.rand(2, 16, requires_grad=True)
    for kind, reaches_heatmaps, reaches_depth in (("pose", True, True), ("depth", False, True),
                                                  ("heatmaps", True, False)):
        pose = adversarial_module.rule_pose(heatmaps, depth, kind)
        assert pose.shape == (2, 16, 3)
        grads = torch.autograd.grad(pose.square().sum(), [heatmaps, depth], allow_unused=True)
        assert (grads[0] is not None and bool(grads[0].abs().sum() > 0)) == reaches_heatmaps
        assert (grads[1] is not None) == reaches_depth
    with pytest.raises(ValueError, match="symmetry_weight > 0 needs adversarial_gradient"):
        replace(ADV, symmetry_weight=1.0, adversarial_gradient="regressor")


def test_d_warmup_trains_d_first_and_keeps_the_generators_minibatches(pretrained, tmp_path, monkeypatch):
    """With lambda 0 the adversarial term is off: after a D warm-up the generator must still end
    where the Baseline ends (same minibatches, same updates), while D has trained 3 + 6 steps."""
    d_steps = []
    original = adversarial_module.discriminator_loss
    monkeypatch.setattr(adversarial_module, "discriminator_loss",
                        lambda *a, **k: d_steps.append(1) or original(*a, **k))
    warm = replace(ADV, lambda_=0.0, d_warmup=3)
    metrics = run_adversarial(pretrained, tmp_path / "warm", options=warm)
    run_adversarial(pretrained, tmp_path / "base", options=replace(ADV, enabled=False))
    assert len(d_steps) == 9 and metrics["iterations"] == 9
    assert_same_state(weights(tmp_path / "warm/models/adversarial.pt")["generator"],
                      weights(tmp_path / "base/models/adversarial.pt")["generator"])


@pytest.mark.parametrize("changes, adv_changes", [
    ({"heads": "per_source", "image_samples": "lab", "objective": "wasserstein", "gradient_penalty": 10.0}, {}),
    ({"sources": ("geo", "kcs"), "pose_scale": "projected", "gradient_penalty": 1.0},
     {"adversarial_gradient": "regressor"}),
    ({"sources": ("kcs",), "objective": "wasserstein", "gradient_penalty": 10.0}, {"fake_2d": "truth"}),
    ({"sources": ("kcs",), "objective": "wasserstein"}, {"conflict": "project", "adversarial_gradient": "heatmaps"}),
])
def test_discriminator_options_train_and_resume(pretrained, tmp_path, monkeypatch, changes, adv_changes):
    """The options beyond the paper run end to end, and a killed run resumes to the same weights."""
    disc = replace(DISC, **changes)
    options = replace(ADV, d_warmup=2, **adv_changes)
    metrics = run_adversarial(pretrained, tmp_path / "unbroken", options=options, disc=disc)
    assert {"final_d_loss", "final_g_adv", "final_d_score_gap"} <= metrics.keys()
    assert ("final_d_penalty" in metrics) == (disc.gradient_penalty > 0)
    # killed after 4 steps (2 of warm-up), at the checkpoint at 4
    killed_then_resumed(monkeypatch, lambda: run_adversarial(pretrained, tmp_path / "broken", options=options,
                                                             disc=disc))
    a, b = weights(tmp_path / "unbroken/models/adversarial.pt"), weights(tmp_path / "broken/models/adversarial.pt")
    assert_same_state(a["generator"], b["generator"])
    assert_same_state(a["discriminator"], b["discriminator"])


@pytest.mark.parametrize("project, adv_grad, step, cosine", [
    # L_pose = w . (1, 0), L_adv = w . (-1, 1): dot -1, cosine -1 / sqrt 2. Added as it is, the
    # step is (1, 0) + (-1, 1) = (0, 1); projected, L_adv's gradient loses -1 x (1, 0): (0, 1),
    # and the step is (1, 1).
    (False, (-1.0, 1.0), (0.0, 1.0), -0.5 ** 0.5),
    (True, (-1.0, 1.0), (1.0, 1.0), -0.5 ** 0.5),
    # L_adv = w . (1, 1): no conflict (cosine 1 / sqrt 2), nothing removed.
    (True, (1.0, 1.0), (2.0, 1.0), 0.5 ** 0.5),
])
def test_conflict_projection_by_hand(project, adv_grad, step, cosine):
    w = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([w], lr=1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    found = adversarial_module.split_optimizer_step(optimizer, scaler, w @ torch.tensor([1.0, 0.0]),
                                                    w @ torch.tensor(adv_grad), [w], project_conflict=project)
    assert w.detach().tolist() == pytest.approx([-x for x in step])
    assert float(found) == pytest.approx(cosine)


def test_conflict_project_changes_the_generator_step(pretrained, tmp_path):
    """One generator step at a large lambda: projected, the generator ends elsewhere than with
    L_adv added as it is, and it logs the cosine of the two gradients."""
    one = replace(ADV, iterations=1, lambda_=10.0)
    run_adversarial(pretrained, tmp_path / "add", options=one)
    metrics = run_adversarial(pretrained, tmp_path / "project", options=replace(one, conflict="project"))
    assert -1.0 <= metrics["final_adv_pose_cosine"] <= 1.0
    added = weights(tmp_path / "add/models/adversarial.pt")["generator"]
    projected = weights(tmp_path / "project/models/adversarial.pt")["generator"]
    assert any(not torch.equal(added[k], projected[k]) for k in added if k.endswith("weight"))


def test_adversarial_gradient_reaches_only_what_it_names(pretrained, tmp_path):
    """After one generator step: with adversarial_gradient "regressor" the 2D module is exactly where
    the Baseline's step takes it and the depth regressor is not; with "heatmaps" the other way
    round; with "depth" L_adv reaches the 2D module through the features the depth regressor reads."""
    one = replace(ADV, iterations=1, lambda_=10.0)
    names = ("depth", "regressor", "heatmaps")
    run_adversarial(pretrained, tmp_path / "base", options=replace(one, enabled=False))
    for name in names:
        run_adversarial(pretrained, tmp_path / name, options=replace(one, adversarial_gradient=name))
    base = weights(tmp_path / "base/models/adversarial.pt")["generator"]
    state = {name: weights(tmp_path / f"{name}/models/adversarial.pt")["generator"] for name in names}

    def part(weights_, prefix):
        return {k: v for k, v in weights_.items() if k.startswith(prefix)}

    def moved(name, prefix):
        return any(not torch.equal(base[k], state[name][k]) for k in part(base, prefix) if k.endswith("weight"))

    assert_same_state(part(state["regressor"], "pose_2d."), part(base, "pose_2d."))
    assert moved("regressor", "depth_regressor.")
    assert_same_state(part(state["heatmaps"], "depth_regressor."), part(base, "depth_regressor."))
    assert moved("heatmaps", "pose_2d.")
    assert moved("depth", "pose_2d.") and moved("depth", "depth_regressor.")


@pytest.mark.parametrize("samples", ["wild", "lab"])
def test_adversarial_term_on_one_domain_only(pretrained, tmp_path, monkeypatch, samples):
    """With adversarial_samples: wild (lab) the generator's L_adv judges the wild (lab) half of
    each minibatch and no sample of the other domain, while D still sees fakes from both."""
    masks = []
    original = adversarial_module.generator_loss
    monkeypatch.setattr(adversarial_module, "generator_loss",
                        lambda logits, p_loss, lam, reduction, objective, mask: masks.append(mask.clone())
                        or original(logits, p_loss, lam, reduction, objective, mask))
    run_adversarial(pretrained, tmp_path, options=replace(ADV, adversarial_samples=samples))
    n_lab = ADV.batch_size // 2
    judged, other = (slice(n_lab, None), slice(0, n_lab)) if samples == "wild" else (slice(0, n_lab), slice(n_lab, None))
    assert masks and all(m[judged].all() and not m[other].any() for m in masks)


def test_fix_2d_leaves_the_2d_module_unchanged(pretrained, tmp_path):
    run_adversarial(pretrained, tmp_path, model=replace(MODEL, fix_2d=True))
    before = weights(pretrained / "models/pretrain_depth.pt")["generator"]
    after = weights(tmp_path / "models/adversarial.pt")["generator"]
    for key in before:
        if key.startswith("pose_2d."):
            assert torch.equal(before[key], after[key]), key
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("depth_regressor."))


def test_without_pretrain_starts_from_a_fresh_regressor(pretrained, tmp_path, monkeypatch):
    seen = {}
    original = adversarial_module.load_generator_weights

    def spy(path, generator, only_2d=False):
        seen["only_2d"] = only_2d
        out = original(path, generator, only_2d)
        seen["regressor"] = {k: v.clone() for k, v in generator.depth_regressor.state_dict().items()}
        return out

    monkeypatch.setattr(adversarial_module, "load_generator_weights", spy)
    run_adversarial(pretrained, tmp_path, options=replace(ADV, init="pretrain_2d"), init="pretrain_2d")
    assert seen["only_2d"]
    pretrained_regressor = {k[len("depth_regressor."):]: v for k, v in
                            weights(pretrained / "models/pretrain_depth.pt")["generator"].items()
                            if k.startswith("depth_regressor.")}
    assert any(not torch.equal(seen["regressor"][k], v) for k, v in pretrained_regressor.items()
               if v.is_floating_point())


def test_fakes_with_true_2d_take_the_labels_where_annotated_and_pass_no_gradient_to_2d():
    predicted = torch.full((2, 3, 4, 4), 0.5, requires_grad=True)
    truth = torch.zeros(2, 3, 4, 4)
    truth[:, :, 1, 2] = 1.0
    annotated = torch.tensor([[True, False, True], [True, True, True]])
    batch = {"heatmaps": truth, "annotated": annotated}
    assert fake_heatmaps_2d(predicted, batch, "predicted") is predicted
    judged = fake_heatmaps_2d(predicted, batch, "truth")
    assert torch.equal(judged[0, 0], truth[0, 0]) and torch.equal(judged[1], truth[1])
    assert torch.equal(judged[0, 1], predicted[0, 1].detach())       # not annotated: the prediction
    assert not judged.requires_grad          # L_adv cannot reach the 2D module through these fakes


def test_fake_selection_takes_both_domains():
    assert fake_selection(4, 4, 4).tolist() == [0, 1, 4, 5]
    assert fake_selection(6, 2, 6).tolist() == [0, 1, 2, 3, 6, 7]
    assert fake_selection(3, 0, 3).tolist() == [0, 1, 2]


def test_settings_name_the_bad_key():
    complete = {"iterations": 3, "batch_size": 2, "lr": 1.0, "lab_fraction": 0.5, "lr_decay_at": [], "lr_decay": 0.1,
                "log_every": 1, "val_every": 1, "checkpoint_every": 1, "val_samples": 1, "workers": 0,
                "augmentation": {"rotation": 30, "rotation_prob": 0.5, "scale": [0.75, 1.25], "flip": 0.5,
                                 "color": 0.2}}
    assert build(LoopSettings, complete, "pretrain_2d", "params.yaml").augmentation.scale == (0.75, 1.25)
    with pytest.raises(ParamsError, match="unknown key adversarial.iteratons"):
        build(LoopSettings, {**complete, "iteratons": 3}, "adversarial", "params.yaml")
    with pytest.raises(ParamsError, match=r"params.yaml: pretrain_2d.batch_size must be >= 1, got 0"):
        build(LoopSettings, {**complete, "batch_size": 0}, "pretrain_2d", "params.yaml")
    with pytest.raises(ParamsError, match="other.yaml: pretrain_2d.lr is missing"):
        build(LoopSettings, {k: v for k, v in complete.items() if k != "lr"}, "pretrain_2d", "other.yaml")
    with pytest.raises(ParamsError, match="pretrain_2d.lr must be a number, got 'abc'"):
        build(LoopSettings, {**complete, "lr": "abc"}, "pretrain_2d", "params.yaml")
    with pytest.raises(ParamsError, match=r"pretrain_2d.lr_decay_at: must be a list of fractions"):
        build(LoopSettings, {**complete, "lr_decay_at": [1.5]}, "pretrain_2d", "params.yaml")
    with pytest.raises(ParamsError, match=r"pretrain_2d.augmentation.flip must be in \[0, 1\]"):
        build(LoopSettings, {**complete, "augmentation": {**complete["augmentation"], "flip": 2}}, "pretrain_2d",
              "params.yaml")
    adversarial_settings = build(AdversarialSettings, {**complete, "enabled": True, "init": "pretrain_2d",
                                                       "lambda": 0.01, "lr_d": 1e-4, "d_steps": 1, "d_warmup": 0,
                                                       "adversarial_gradient": "pose", "fake_2d": "truth",
                                                       "adversarial_samples": "wild", "conflict": "project",
                                                       "symmetry_weight": 0.0},
                                 "adversarial", "params.yaml")
    assert adversarial_settings.lambda_ == 0.01 and adversarial_settings.init == "pretrain_2d"
    assert adversarial_settings.fake_2d == "truth" and adversarial_settings.adversarial_samples == "wild"
    assert adversarial_settings.conflict == "project"


def test_step_decay_is_a_function_of_the_iteration():
    settings = LoopSettings(iterations=100, batch_size=2, lr=1.0, lr_decay_at=(0.5, 0.75), lr_decay=0.1)
    assert [learning_rate(settings, i) for i in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
