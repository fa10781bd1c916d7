"""Bad params: for every section, an unknown key, a missing key, a wrong type and an out-of-range
value each give one line naming the file read and the full key, exit 1, no traceback and
nothing written."""

import copy
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())

# section -> the stage command that reads it
STAGE_OF = {"data": "preprocess", "seed": "pretrain_2d", "loss": "pretrain_2d", "model": "pretrain_2d",
            "runtime": "pretrain_2d", "pretrain_2d": "pretrain_2d", "pretrain_depth": "pretrain_depth",
            "discriminator": "adversarial", "adversarial": "adversarial", "evaluate": "evaluate"}

# (section, dotted key, value or MISSING, words the message must hold)
MISSING = object()
CASES = [
    ("data", "data.colour", 1, "unknown key data.colour"),
    ("data", "data.image_size", MISSING, "data.image_size is missing"),
    ("data", "data.image_size", "big", "data.image_size must be an integer, got 'big'"),
    ("data", "data.image_size", 8, "data.image_size must be >= 16, got 8"),
    ("data", "data.synthetic.wild_train", 0, "data.synthetic.wild_train must be >= 1, got 0"),
    ("data", "data.source", "imagenet", "data.source must be one of synthetic, real, got 'imagenet'"),
    ("seed", "seed", MISSING, "seed is missing"),
    ("seed", "seed", "abc", "seed must be an integer >= 0, got 'abc'"),
    ("seed", "seed", -1, "seed must be an integer >= 0, got -1"),
    ("loss", "loss.scale", 1, "unknown key loss.scale"),
    ("loss", "loss.depth_weight", MISSING, "loss.depth_weight is missing"),
    ("loss", "loss.depth_weight", "heavy", "loss.depth_weight must be a number, got 'heavy'"),
    ("loss", "loss.depth_weight", -0.1, "loss.depth_weight must be >= 0, got -0.1"),
    ("loss", "loss.reduction", "mean", "loss.reduction must be one of backbone, batch_mean, sum, got 'mean'"),
    ("model", "model.width", 8, "unknown key model.width"),
    ("model", "model.num_features", MISSING, "model.num_features is missing"),
    ("model", "model.num_stacks", 1.5, "model.num_stacks must be an integer, got 1.5"),
    ("model", "model.num_stacks", 0, "model.num_stacks must be >= 1, got 0"),
    ("model", "model.device", "cpu", "model.device has moved to runtime.device"),
    ("runtime", "runtime.gpu", 0, "unknown key runtime.gpu"),
    ("runtime", "runtime.threads", MISSING, "runtime.threads is missing"),
    ("runtime", "runtime.amp", "yes", "runtime.amp must be true or false or one of fp16, bf16, got 'yes'"),
    ("runtime", "runtime.threads", -1, "runtime.threads must be >= 0, got -1"),
    ("pretrain_2d", "pretrain_2d.epochs", 3, "unknown key pretrain_2d.epochs"),
    ("pretrain_2d", "pretrain_2d.lr", MISSING, "pretrain_2d.lr is missing"),
    ("pretrain_2d", "pretrain_2d.lr", "abc", "pretrain_2d.lr must be a number, got 'abc'"),
    ("pretrain_2d", "pretrain_2d.batch_size", 0, "pretrain_2d.batch_size must be >= 1, got 0"),
    ("pretrain_2d", "pretrain_2d.augmentation.flip", 1.5, "pretrain_2d.augmentation.flip must be in [0, 1], got 1.5"),
    ("pretrain_depth", "pretrain_depth.warmup", 3, "unknown key pretrain_depth.warmup"),
    ("pretrain_depth", "pretrain_depth.iterations", MISSING, "pretrain_depth.iterations is missing"),
    ("pretrain_depth", "pretrain_depth.lab_fraction", "half", "pretrain_depth.lab_fraction must be a number"),
    ("pretrain_depth", "pretrain_depth.lab_fraction", 1.5, "pretrain_depth.lab_fraction must be in [0, 1], got 1.5"),
    ("discriminator", "discriminator.depth", 3, "unknown key discriminator.depth"),
    ("discriminator", "discriminator.width", MISSING, "discriminator.width is missing"),
    ("discriminator", "discriminator.width", "wide", "discriminator.width must be an integer, got 'wide'"),
    ("discriminator", "discriminator.width", 0, "discriminator.width must be >= 1, got 0"),
    ("discriminator", "discriminator.sources", "all", "discriminator.sources: unknown source(s) ['all']"),
    ("adversarial", "adversarial.gamma", 1, "unknown key adversarial.gamma"),
    ("adversarial", "adversarial.lambda", MISSING, "adversarial.lambda is missing"),
    ("adversarial", "adversarial.enabled", "yes", "adversarial.enabled must be true or false, got 'yes'"),
    ("adversarial", "adversarial.lambda", -1e-4, "adversarial.lambda must be >= 0, got -0.0001"),
    ("adversarial", "adversarial.init", "scratch", "adversarial.init must be one of pretrain_depth, pretrain_2d"),
    ("evaluate", "evaluate.metric", "x", "unknown key evaluate.metric"),
    ("evaluate", "evaluate.batch_size", MISSING, "evaluate.batch_size is missing"),
    ("evaluate", "evaluate.max_samples", 2.5, "evaluate.max_samples must be an integer or null, got 2.5"),
    ("evaluate", "evaluate.pck_threshold", 0, "evaluate.pck_threshold must be > 0, got 0"),
]


def with_change(key, value):
    params = copy.deepcopy(DEFAULTS)
    *path, last = key.split(".")
    holder = params
    for part in path:
        holder = holder[part]
    if value is MISSING:
        del holder[last]
    else:
        holder[last] = value
    return params


def run_stage(stage, folder, params_name):
    module = __import__(f"stages.{stage}", fromlist=["main"])
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(module.main, ["--params", params_name, "--no-progress"] if stage != "evaluate"
                                  else ["--params", params_name])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("section, key, value, words", CASES, ids=[f"{c[1]}={c[2] if c[2] is not MISSING else '-'}"
                                                                   for c in CASES])
def test_bad_params_give_one_line_and_write_nothing(tmp_path, section, key, value, words):
    # Every section has its four cases.
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(with_change(key, value), sort_keys=False))
    result = run_stage(STAGE_OF[section], tmp_path, "other.yaml")
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("error: other.yaml: ") and words in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.yaml"]


def test_every_section_has_the_four_cases():
    for section in STAGE_OF:
        words = [c[3] for c in CASES if c[0] == section]
        assert any("unknown key" in w for w in words) or section == "seed", section
        assert any("is missing" in w for w in words), section
        assert any(" must be " in w and ("got '" in w or "got 1.5" in w or "got 2.5" in w) for w in words), section
        assert any(">=" in w or "in [" in w or "> 0" in w for w in words), section


def test_the_defaults_are_accepted():
    from posegan.config import ParamsFile
    from posegan.data.schema import PreparedData
    from posegan.data.settings import DataSettings
    from posegan.device import RuntimeSettings
    from posegan.evaluate import EvaluateSettings
    from posegan.losses import LossSettings
    from posegan.models.discriminator import DiscriminatorSettings
    from posegan.models.generator import ModelSettings
    from posegan.train.settings import AdversarialSettings, LoopSettings

    params = ParamsFile.read(ROOT / "params.yaml")
    for name, cls in (("data", DataSettings), ("data", PreparedData), ("loss", LossSettings),
                      ("model", ModelSettings), ("runtime", RuntimeSettings),
                      ("discriminator", DiscriminatorSettings), ("pretrain_2d", LoopSettings),
                      ("pretrain_depth", LoopSettings), ("adversarial", AdversarialSettings),
                      ("evaluate", EvaluateSettings)):
        assert isinstance(params.section(name, cls), cls)
    assert params.seed == DEFAULTS["seed"]
