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
            "discriminator": "adversarial", "adversarial": "adversarial", "evaluate": "evaluate", "tables": "tables"}

# (section, dotted key, value or MISSING, words the message must hold)
MISSING = object()
CASES = [
    ("data", "data.colour", 1, "unknown key data.colour"),
    ("data", "data.image_size", MISSING, "data.image_size is missing"),
    ("data", "data.image_size", "big", "data.image_size must be an integer, got 'big'"),
    ("data", "data.image_size", 8, "data.image_size must be >= 16, got 8"),
    ("data", "data.synthetic.wild_train", 0, "data.synthetic.wild_train must be >= 1, got 0"),
    ("data", "data.source", "imagenet", "data.source must be one of synthetic, real, got 'imagenet'"),
    ("data", "data.real.h36m_rot", "x", "unknown key data.real.h36m_rot"),
    ("data", "data.real.crop_margin", MISSING, "data.real.crop_margin is missing"),
    ("data", "data.real.workers", "two", "data.real.workers must be an integer, got 'two'"),
    ("data", "data.real.crop_margin", 0, "data.real.crop_margin must be > 0, got 0"),
    ("data", "data.heatmap_stride", 4, "data.heatmap_stride is no parameter any more"),
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
    ("adversarial", "adversarial.symmetry_weight", -1.0, "adversarial.symmetry_weight must be >= 0, got -1.0"),
    ("adversarial", "adversarial.init", "scratch", "adversarial.init must be one of pretrain_depth, pretrain_2d"),
    ("evaluate", "evaluate.metric", "x", "unknown key evaluate.metric"),
    ("evaluate", "evaluate.batch_size", MISSING, "evaluate.batch_size is missing"),
    ("evaluate", "evaluate.max_samples", 2.5, "evaluate.max_samples must be an integer or null, got 2.5"),
    ("evaluate", "evaluate.pck_threshold", 0, "evaluate.pck_threshold must be > 0, got 0"),
    ("evaluate", "evaluate.figure_samples", 4, "evaluate.figure_samples has moved to tables.figure_samples"),
    ("tables", "tables.rows", 4, "unknown key tables.rows"),
    ("tables", "tables.figure_samples", MISSING, "tables.figure_samples is missing"),
    ("tables", "tables.figure_samples", "four", "tables.figure_samples must be an integer, got 'four'"),
    ("tables", "tables.figure_samples", 0, "tables.figure_samples must be >= 1, got 0"),
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
        return CliRunner().invoke(module.main, ["--params", params_name, "--no-progress"]
                                  if stage not in ("evaluate", "tables") else ["--params", params_name])
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


# data.real: a bad value of every key (the block is checked even when data.source is synthetic).
BAD_REAL = {
    "h36m_root": (5, "data.real.h36m_root: must be a folder path or null, got 5"),
    "mpii_root": ([], "data.real.mpii_root: must be a folder path or null, got []"),
    "mpi_inf_3dhp_root": ("", "data.real.mpi_inf_3dhp_root: must be a folder path or null, got ''"),
    "workers": (0, "data.real.workers must be >= 1, got 0"),
    "on_error": ("ignore", "data.real.on_error must be one of fail, skip, got 'ignore'"),
    "crop_margin": ("wide", "data.real.crop_margin must be a number, got 'wide'"),
    "h36m_train_subjects": ([], "data.real.h36m_train_subjects: must be a non-empty list of folder names"),
    "h36m_test_subjects": ("S9", "data.real.h36m_test_subjects: must be a non-empty list of folder names"),
    "h36m_train_frame_step": (0, "data.real.h36m_train_frame_step must be >= 1, got 0"),
    "h36m_test_frame_step": (1.5, "data.real.h36m_test_frame_step must be an integer, got 1.5"),
    "mpii_annotations": ("json", "data.real.mpii_annotations must be one of auto, hourglass, release, got 'json'"),
    "mpii_scale_factor": (-1, "data.real.mpii_scale_factor must be > 0, got -1"),
    "mpii_valid_fraction": (1.0, "data.real.mpii_valid_fraction: must be a number in [0, 1), got 1.0"),
    "mpi_inf_3dhp_sequences": ([1], "data.real.mpi_inf_3dhp_sequences: must be a non-empty list of folder names"),
    "mpi_inf_3dhp_frame_step": ("1", "data.real.mpi_inf_3dhp_frame_step must be an integer, got '1'"),
    "mpi_inf_3dhp_joints_3d": ("annot2", "data.real.mpi_inf_3dhp_joints_3d must be one of univ_annot3, annot3"),
    "mpi_inf_3dhp_intrinsics": ({"TS1": [1, 2, 3]}, "data.real.mpi_inf_3dhp_intrinsics.TS1 must be [fx, fy, cx, cy]"),
}


def test_every_data_real_key_is_in_params_yaml_and_checked():
    assert sorted(BAD_REAL) == sorted(DEFAULTS["data"]["real"])


@pytest.mark.parametrize("key", sorted(BAD_REAL))
def test_a_bad_or_missing_data_real_key_gives_one_line(tmp_path, key):
    value, words = BAD_REAL[key]
    for change, expected in ((value, words), (MISSING, f"data.real.{key} is missing")):
        (tmp_path / "other.yaml").write_text(yaml.safe_dump(with_change(f"data.real.{key}", change), sort_keys=False))
        result = run_stage("preprocess", tmp_path, "other.yaml")
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert lines[0].startswith("error: other.yaml: ") and expected in lines[0], lines[0]
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
    from posegan.data.dataset import PreparedData
    from posegan.data.preprocess_settings import DataSettings
    from posegan.device import RuntimeSettings
    from posegan.evaluate import EvaluateSettings
    from posegan.losses import LossSettings
    from posegan.models.discriminator import DiscriminatorSettings
    from posegan.models.generator import ModelSettings
    from posegan.report.figures import TablesSettings
    from posegan.train.adversarial import AdversarialSettings
    from posegan.train.loop_setup import LoopSettings

    params = ParamsFile.read(ROOT / "params.yaml")
    for name, cls in (("data", DataSettings), ("data", PreparedData), ("loss", LossSettings),
                      ("model", ModelSettings), ("runtime", RuntimeSettings),
                      ("discriminator", DiscriminatorSettings), ("pretrain_2d", LoopSettings),
                      ("pretrain_depth", LoopSettings), ("adversarial", AdversarialSettings),
                      ("evaluate", EvaluateSettings), ("tables", TablesSettings)):
        assert isinstance(params.section(name, cls), cls)
    assert params.seed == DEFAULTS["seed"]


def test_defaults_agree_with_params_yaml_and_the_modules():
    """params.yaml holds the defaults; a settings dataclass's own defaults and the network
    constructors' defaults say the same, so no reader can meet a second, different value."""
    import dataclasses
    import inspect

    from posegan.config import ParamsFile
    from posegan.data.dataset import PreparedData
    from posegan.data.preprocess_settings import DataSettings
    from posegan.device import RuntimeSettings
    from posegan.evaluate import EvaluateSettings
    from posegan.heatmaps import HEATMAP_STRIDE
    from posegan.losses import LossSettings
    from posegan.models import DepthRegressor, Generator, MultiSourceDiscriminator, StackedHourglass
    from posegan.models.discriminator import DiscriminatorSettings, parse_sources
    from posegan.models.generator import ModelSettings
    from posegan.report.figures import TablesSettings

    params = ParamsFile.read(ROOT / "params.yaml")
    for name, cls in (("data", PreparedData), ("loss", LossSettings), ("model", ModelSettings),
                      ("runtime", RuntimeSettings), ("discriminator", DiscriminatorSettings),
                      ("evaluate", EvaluateSettings), ("tables", TablesSettings)):
        assert params.section(name, cls) == cls(), name
    data = params.section("data", DataSettings)
    for f in dataclasses.fields(DataSettings):
        default = getattr(DataSettings(), f.name)
        if default is not None:       # None: a nested section, filled in from the file
            assert getattr(data, f.name) == default, f"data.{f.name}"

    def defaults(constructor):
        return {k: p.default for k, p in inspect.signature(constructor).parameters.items()
                if p.default is not inspect.Parameter.empty}

    model = ModelSettings()
    generator = defaults(Generator)
    for key in ("num_stacks", "num_blocks", "num_features", "depth_pooling", "fix_2d"):
        assert generator[key] == getattr(model, key), f"Generator {key}"
    hourglass = defaults(StackedHourglass)
    for key in ("num_stacks", "num_blocks", "num_features"):
        assert hourglass[key] == getattr(model, key), f"StackedHourglass {key}"
    regressor = defaults(DepthRegressor)
    assert (regressor["num_features"], regressor["pooling"]) == (model.num_features, model.depth_pooling)

    disc, discriminator = DiscriminatorSettings(), defaults(MultiSourceDiscriminator)
    assert parse_sources(discriminator["sources"]) == disc.sources
    for key in ("width", "embed_dim", "hidden_dim", "maps_from", "pose_scale", "heads"):
        assert discriminator[key] == getattr(disc, key), f"MultiSourceDiscriminator {key}"
    image_size = params.section("data", PreparedData).image_size
    assert discriminator["image_size"] == image_size
    assert discriminator["heatmap_size"] == image_size // HEATMAP_STRIDE
