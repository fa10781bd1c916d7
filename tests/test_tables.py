"""Reports: Tables 1-4, figures, the tables stage, the ablation table from `dvc exp show --json`,
and the script that queues the seven Table-2 variants."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from fakes import write_fake_prepared
from posegan.camera import depth_target, project
from posegan.data.schema import prepared_path, read_prepared
from posegan.evaluate import write_evaluation
from posegan.scoring import score_cross, score_lab, score_wild
from posegan.report.ablation import (ExperimentRow, ablation_table, baseline_name, experiment_rows,
                                     load_exp_show, variant_name, varying_options)
from posegan.report.figures import (load_training_curves, read_curve, spread_by_change,
                                    training_curves_figure)
from posegan.report.tables import (StagedFiles, table1_h36m, table2_limbs, table3_mpii_pckh, table4_3dhp,
                                   to_csv, to_markdown)

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- Tables 1-4

def limbs(ua, la, ul, ll, mean):
    return {"upper_arms": ua, "lower_arms": la, "upper_legs": ul, "lower_legs": ll, "mean": mean}


def lab(mpjpe, p_mpjpe, by_action, p_by_action, limb_values):
    return {"samples": 10, "mpjpe": mpjpe, "p_mpjpe": p_mpjpe, "limbs": limbs(*limb_values),
            "mpjpe_by_action": by_action, "p_mpjpe_by_action": p_by_action}


def cross(pck, auc):
    return {"samples": 7, "pck": pck, "auc": auc, "mpjpe": 100.0}


PCKH = {"mean": 80.0, "Head": 90.0, "Shoulder": 85.0, "Elbow": 80.0, "Wrist": 70.0, "Hip": 75.0, "Knee": 72.0,
        "Ankle": None}
METRICS = {
    "h36m": lab(60.0, 40.0, {"Walking": 50.0, "Sitting": 72.0}, {"Walking": 35.0, "Sitting": 47.0},
                (61.7, 81.1, 43.1, 77.6, 60.0)),
    "mpii": {"samples": 5, "pckh": PCKH},
    "mpi_inf_3dhp": cross({"total": 69.0, "Sports": 60.0, "On the floor": 78.0},
                          {"total": 32.0, "Sports": 30.0, "On the floor": 34.0}),
    "pretrained": {
        "h36m": lab(65.0, 44.0, {"Walking": 55.0, "Sitting": 75.0}, {"Walking": 40.0, "Sitting": 48.0},
                    (66.6, 90.0, 47.1, 83.7, 65.0)),
        "mpii": {"samples": 5, "pckh": {**PCKH, "mean": 78.5}},
        "mpi_inf_3dhp": cross({"total": 50.1, "Sports": 50.0, "On the floor": 50.2},
                              {"total": 21.6, "Sports": 21.0, "On the floor": 22.2}),
    },
    "mean_pose": {
        "h36m": lab(120.0, 90.0, {"Walking": 110.0, "Sitting": 130.0}, {"Walking": 85.0, "Sitting": 95.0},
                    (130.0, 180.0, 100.0, 150.0, 120.0)),
        "mpi_inf_3dhp": cross({"total": 20.0, "Sports": 19.0, "On the floor": 21.0},
                              {"total": 8.0, "Sports": 7.5, "On the floor": 8.5}),
    },
}
LABELS = {"mean_pose": "Mean pose", "pretrained": "Pretrained", "final": "Full"}


def test_table1_rows_columns_and_average():
    table = table1_h36m(METRICS, LABELS)
    assert list(table.columns) == ["Protocol", "Method", "Walking", "Sitting", "Avg", "All"]
    assert list(table["Method"]) == ["Mean pose", "Pretrained", "Full"] * 2
    assert list(table["Protocol"]) == ["Protocol #1"] * 3 + ["Protocol #2"] * 3
    full_p1 = table.iloc[2]
    assert (full_p1["Walking"], full_p1["Sitting"], full_p1["Avg"], full_p1["All"]) == (50.0, 72.0, 61.0, 60.0)
    full_p2 = table.iloc[5]
    assert (full_p2["Walking"], full_p2["Avg"], full_p2["All"]) == (35.0, 41.0, 40.0)


def test_table2_to_4_values():
    t2 = table2_limbs(METRICS, LABELS)
    assert list(t2.columns) == ["Method", "U.Arms", "L.Arms", "U.Legs", "L.Legs", "Mean"]
    assert t2.iloc[2].tolist() == ["Full", 61.7, 81.1, 43.1, 77.6, 60.0]
    assert t2.iloc[1].tolist() == ["Pretrained", 66.6, 90.0, 47.1, 83.7, 65.0]

    t3 = table3_mpii_pckh(METRICS, LABELS)
    assert list(t3["Method"]) == ["Pretrained", "Full"]          # no 2D for the mean pose
    assert list(t3.columns) == ["Method", "Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank.", "Mean"]
    assert t3.iloc[0]["Mean"] == 78.5 and np.isnan(t3.iloc[1]["Ank."])

    t4 = table4_3dhp(METRICS, LABELS)
    assert list(t4.columns) == ["Metric", "Method", "Sports", "On the floor", "Total"]
    assert t4.iloc[2].tolist() == ["PCK", "Full", 60.0, 78.0, 69.0]
    assert t4.iloc[4].tolist() == ["AUC", "Pretrained", 21.0, 22.2, 21.6]


def test_markdown_and_csv_formats():
    t3 = table3_mpii_pckh(METRICS, LABELS)
    text = to_markdown(t3, digits=1, caption="**Table 3.** caption")
    lines = text.splitlines()
    assert lines[0] == "**Table 3.** caption" and lines[1] == ""
    assert lines[2] == "| Method | Head | Sho. | Elb. | Wri. | Hip | Knee | Ank. | Mean |"
    assert lines[3] == "|:---|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[5] == "| Full | 90.0 | 85.0 | 80.0 | 70.0 | 75.0 | 72.0 | - | 80.0 |"
    back = pd.read_csv(pd.io.common.StringIO(to_csv(t3)))
    pd.testing.assert_frame_equal(back, t3, check_dtype=False)


def test_tables_need_the_final_model():
    with pytest.raises(ValueError, match=r"evaluate.json: the final model's results \['mpii'\] are missing"):
        table2_limbs({k: v for k, v in METRICS.items() if k != "mpii"})


def test_staged_files_all_or_nothing(tmp_path):
    with StagedFiles() as staged:
        staged.write_text(tmp_path / "a/one.md", "1")
        staged.write_text(tmp_path / "two.csv", "2")
        assert not (tmp_path / "two.csv").exists()
        staged.commit()
    assert (tmp_path / "a/one.md").read_text() == "1" and (tmp_path / "two.csv").read_text() == "2"
    with pytest.raises(RuntimeError):
        with StagedFiles() as staged:
            staged.write_text(tmp_path / "three.md", "3")
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["one.md", "two.csv"]


# --------------------------------------------------------------------------- figures

def test_read_curve_keeps_the_last_value_of_a_step(tmp_path):
    path = tmp_path / "mpjpe_lab.tsv"
    path.write_text("step\tmpjpe_lab\n10\t300.5\n20\t200\n20\t190\n15\t250\n")
    steps, values = read_curve(path)
    np.testing.assert_array_equal(steps, [10, 15, 20])
    np.testing.assert_array_equal(values, [300.5, 250.0, 190.0])
    (tmp_path / "bad.tsv").write_text("iteration\tvalue\n1\t2\n")
    with pytest.raises(ValueError, match="bad.tsv: expected a DVCLive TSV"):
        read_curve(tmp_path / "bad.tsv")


def test_spread_by_change_spans_best_to_worst():
    change = np.array([0.0, -5.0, 3.0, np.nan, -1.0, 9.0])
    np.testing.assert_array_equal(spread_by_change(change, 3), [1, 0, 5])
    np.testing.assert_array_equal(spread_by_change(change[:2], 4), [1, 0])


def write_curves(root, stages=(("pretrain_2d", 8, False), ("pretrain_depth", 10, True), ("adversarial", 6, True))):
    for stage, iterations, with_3d in stages:
        folder = root / "dvclive" / stage / "plots/metrics"
        (folder / "val").mkdir(parents=True)
        (folder / "train").mkdir(parents=True)
        steps = np.arange(2, iterations + 1, 2)
        (folder / "train/loss.tsv").write_text("step\tloss\n" + "".join(f"{s}\t{1 / s}\n" for s in steps))
        (folder / "val/pckh_wild.tsv").write_text("step\tpckh_wild\n" + "".join(f"{s}\t{5 * s}\n" for s in steps))
        if with_3d:
            (folder / "val/mpjpe_lab.tsv").write_text("step\tmpjpe_lab\n" + "".join(f"{s}\t{300 - s}\n"
                                                                                    for s in steps))


def test_training_curves(tmp_path):
    write_curves(tmp_path)
    curves, lengths = load_training_curves(tmp_path / "dvclive")
    assert lengths == {"pretrain_2d": 8, "pretrain_depth": 10, "adversarial": 6}
    assert set(curves["pretrain_2d"]) == {"pckh_wild"}
    np.testing.assert_array_equal(curves["adversarial"]["mpjpe_lab"][1], [298, 296, 294])
    fig = training_curves_figure(curves, lengths)
    lines = {line.get_label(): line.get_xdata() for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}
    np.testing.assert_array_equal(lines["adversarial"], [20, 22, 24])         # after 8 + 10 iterations
    assert [ax.get_title() for ax in fig.axes] == ["val MPJPE, lab test (mm)", "val PCKh@0.5, wild (%)"]
    with pytest.raises(FileNotFoundError, match="no validation curve found"):
        load_training_curves(tmp_path / "elsewhere")


# --------------------------------------------------------------------------- tables stage

def fake_predictions(prepared_dir, noise, seed, stride=4):
    """predict()-like arrays: ground truth plus Gaussian noise (mm in 3D, pixels in 2D)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, (dataset, split) in {"h36m": ("h36m", "test"), "mpii": ("mpii", "valid"),
                                  "mpi_inf_3dhp": ("mpi_inf_3dhp", "test")}.items():
        labels, _ = read_prepared(prepared_path(prepared_dir, dataset, split))
        n = len(labels["has_3d"])
        if labels["has_3d"].all():
            joints_3d = labels["joints_3d"] + rng.normal(scale=noise, size=(n, 16, 3))
            joints_2d = project(joints_3d, labels["camera"])
            depth = depth_target(joints_3d, labels["camera"], stride)
        else:
            joints_3d = np.full((n, 16, 3), np.nan)
            joints_2d = labels["joints_2d"] + rng.normal(scale=noise / 50, size=(n, 16, 2))
            depth = rng.normal(size=(n, 16))
        out[key] = {"index": np.arange(n), "joints_2d": joints_2d.astype(np.float32),
                    "depth": depth.astype(np.float32), "joints_3d": joints_3d.astype(np.float32),
                    "confidence": np.ones((n, 16), np.float32)}
    return out


def scores(prepared_dir, predictions):
    result = {}
    for key, (dataset, split) in {"h36m": ("h36m", "test"), "mpii": ("mpii", "valid"),
                                  "mpi_inf_3dhp": ("mpi_inf_3dhp", "test")}.items():
        labels, attrs = read_prepared(prepared_path(prepared_dir, dataset, split))
        pred = predictions[key]
        if key == "h36m":
            result[key] = score_lab(pred["joints_3d"], labels, attrs["action_names"])
        elif key == "mpii":
            result[key] = score_wild(pred["joints_2d"], labels, attrs["image_size"])
        else:
            result[key] = score_cross(pred["joints_3d"], labels, attrs["action_names"])
    return result


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A run folder as the evaluate stage leaves it (with ground-truth-plus-noise predictions)."""
    root = tmp_path_factory.mktemp("tables")
    prepared = root / "data/prepared"
    write_fake_prepared(prepared, n=10, size=64)
    final, pretrained = fake_predictions(prepared, 40.0, 0), fake_predictions(prepared, 90.0, 1)
    metrics = {**scores(prepared, final), "pretrained": scores(prepared, pretrained)}
    predictions = {f"{name}_{key}": arrays for name, preds in (("final", final), ("pretrained", pretrained))
                   for key, arrays in preds.items()}
    write_evaluation(metrics, predictions, root / "metrics/evaluate.json", root / "predictions")
    write_curves(root)
    params = {"data": {"prepared_dir": "data/prepared", "image_size": 64},
              "model": {"fix_2d": False}, "discriminator": {"sources": "geo"},
              "adversarial": {"enabled": True, "init": "pretrain_depth"},
              "evaluate": {"batch_size": 4, "workers": 0, "max_samples": None, "pck_threshold": 150.0,
                           "pckh_threshold": 0.5},
              "tables": {"figure_samples": 3}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def run_cli(folder, args):
    from stages.tables import main

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(cwd)


def test_tables_stage_writes_every_table_and_figure(evaluated):
    result = run_cli(evaluated, [])
    assert result.exit_code == 0, result.output
    reports = sorted(p.name for p in (evaluated / "reports/tables").iterdir())
    assert reports == sorted(f"{t}.{ext}" for t in ("table1_h36m", "table2_limbs", "table3_mpii_pckh", "table4_3dhp")
                             for ext in ("md", "csv"))
    metrics = json.loads((evaluated / "metrics/evaluate.json").read_text())
    table2 = pd.read_csv(evaluated / "reports/tables/table2_limbs.csv")
    assert list(table2["Method"]) == ["Pretrained (no adv.)", "Geo"]      # the final model named by its params
    assert table2.iloc[1]["Mean"] == pytest.approx(metrics["h36m"]["limbs"]["mean"])
    assert table2.iloc[0]["Mean"] > table2.iloc[1]["Mean"]                 # noise 90 mm vs 40 mm
    assert "| Geo |" in (evaluated / "reports/tables/table3_mpii_pckh.md").read_text()
    for name in ("qualitative_h36m", "qualitative_mpii", "training_curves"):
        with Image.open(evaluated / "figures" / f"{name}.png") as image:
            assert image.format == "PNG" and min(image.size) > 300
    assert not [p for p in evaluated.rglob("*.tmp*")]


def test_tables_stage_missing_input_writes_nothing(evaluated, tmp_path):
    shutil.copytree(evaluated, tmp_path / "run", symlinks=True)
    run = tmp_path / "run"
    shutil.rmtree(run / "reports", ignore_errors=True)
    shutil.rmtree(run / "figures", ignore_errors=True)
    (run / "predictions/pretrained_mpii.npz").unlink()
    result = run_cli(run, [])
    assert result.exit_code == 1
    assert "predictions/pretrained_mpii.npz: predictions not found" in result.output
    assert not [p for p in (run / "reports").rglob("*") if p.is_file()]
    assert not (run / "figures").exists() or not any((run / "figures").iterdir())
    (run / "metrics/evaluate.json").unlink()
    result = run_cli(run, [])
    assert result.exit_code == 1 and "metrics/evaluate.json: evaluation metrics not found" in result.output
EXP_SHOW_JSON = (
    '[{"rev":"workspace","name":null,"data":{"rev":"workspace","timestamp":null,"params":{"params.yaml":{"data":{'
    '"model":{"fix_2d":false},"discriminator":{"sources":"geo"},"adversarial":{"enabled":true,"init":"pretrain_de'
    'pth"}}}},"metrics":{"metrics/evaluate.json":{"data":{"h36m":{"samples":100,"mpjpe":61.0,"p_mpjpe":30.5,"limb'
    's":{"upper_arms":62.0,"lower_arms":81.0,"upper_legs":51.0,"lower_legs":76.0,"mean":61.0}},"mpii":{"samples":'
    '50,"pckh":{"mean":39.0}}}}}},"error":null,"experiments":null},{"rev":"c3a44b1d98515bc42bf778a322014c0f647f96'
    'cb","name":"main","data":{"rev":"c3a44b1d98515bc42bf778a322014c0f647f96cb","timestamp":"2026-11-23T20:57:34"'
    ',"params":{"params.yaml":{"data":{"model":{"fix_2d":false},"discriminator":{"sources":"full"},"adversarial":'
    '{"enabled":true,"init":"pretrain_depth"}}}},"metrics":{"metrics/evaluate.json":{"data":{"h36m":{"samples":10'
    '0,"mpjpe":60.0,"p_mpjpe":30.0,"limbs":{"upper_arms":61.0,"lower_arms":80.0,"upper_legs":50.0,"lower_legs":75'
    '.0,"mean":60.0}},"mpii":{"samples":50,"pckh":{"mean":40.0}}}}}},"error":null,"experiments":[{"revs":[{"rev":'
    '"2ccdf694c20356d36f2e82827cf60f2625729704","name":"table2-baseline","data":{"rev":"2ccdf694c20356d36f2e82827'
    'cf60f2625729704","timestamp":"2026-11-23T20:57:44","params":{"params.yaml":{"data":{"model":{"fix_2d":false}'
    ',"discriminator":{"sources":"geo"},"adversarial":{"enabled":false,"init":"pretrain_depth"}}}},"metrics":{"me'
    'trics/evaluate.json":{"data":{"h36m":{"samples":100,"mpjpe":71.0,"p_mpjpe":35.5,"limbs":{"upper_arms":72.0,"'
    'lower_arms":91.0,"upper_legs":61.0,"lower_legs":86.0,"mean":71.0}},"mpii":{"samples":50,"pckh":{"mean":29.0}'
    '}}}}},"error":null,"experiments":null}],"executor":{"state":"success","name":"dvc-task","local":{"root":null'
    ',"log":"/tmp/evaltab/repo2/.dvc/tmp/exps/run/0a96f6464eea273ee85ab3a3cf75786da9c1df68/0a96f6464eea273ee85ab3'
    'a3cf75786da9c1df68.out","pid":14523,"returncode":0,"task_id":"0a96f6464eea273ee85ab3a3cf75786da9c1df68"}},"n'
    'ame":"table2-baseline"},{"revs":[{"rev":"59bd193530701e840551ddeee5e510ac5f80d9c9","name":"table2-geo","data'
    '":{"rev":"59bd193530701e840551ddeee5e510ac5f80d9c9","timestamp":"2026-11-23T20:57:35","params":{"params.yaml'
    '":{"data":{"model":{"fix_2d":false},"discriminator":{"sources":"geo"},"adversarial":{"enabled":true,"init":"'
    'pretrain_depth"}}}},"metrics":{"metrics/evaluate.json":{"data":{"h36m":{"samples":100,"mpjpe":61.0,"p_mpjpe"'
    ':30.5,"limbs":{"upper_arms":62.0,"lower_arms":81.0,"upper_legs":51.0,"lower_legs":76.0,"mean":61.0}},"mpii":'
    '{"samples":50,"pckh":{"mean":39.0}}}}}},"error":null,"experiments":null}],"executor":null,"name":"table2-geo'
    '"},{"revs":[{"rev":"18649fad97c9456b3403e530337792f4814e72a7","name":"table2-full-fix2d","data":{"rev":"1864'
    '9fad97c9456b3403e530337792f4814e72a7","timestamp":"2026-11-23T20:57:57","params":{"params.yaml":{"data":{"mo'
    'del":{"fix_2d":true},"discriminator":{"sources":"geo"},"adversarial":{"enabled":true,"init":"pretrain_depth"'
    '}}}},"metrics":{}},"error":null,"experiments":null}],"executor":{"state":"queued","name":"dvc-task","local":'
    '{"root":null,"log":null,"pid":null,"returncode":null,"task_id":"18649fad97c9456b3403e530337792f4814e72a7"}},'
    '"name":"table2-full-fix2d"},{"revs":[{"rev":"95e74115b64c8e7e7f6b573c85a973d0ccf72414","name":"table2-broken'
    '","data":{"rev":"95e74115b64c8e7e7f6b573c85a973d0ccf72414","timestamp":"2026-11-23T20:57:38","params":{"para'
    'ms.yaml":{"data":{"model":{"fix_2d":false},"discriminator":{"sources":"bogus"},"adversarial":{"enabled":true'
    ',"init":"pretrain_depth"}}}},"metrics":{"metrics/evaluate.json":{"data":{"h36m":{"samples":100,"mpjpe":61.0,'
    '"p_mpjpe":30.5,"limbs":{"upper_arms":62.0,"lower_arms":81.0,"upper_legs":51.0,"lower_legs":76.0,"mean":61.0}'
    '},"mpii":{"samples":50,"pckh":{"mean":39.0}}}}}},"error":{"msg":"Experiment run failed","type":""},"experime'
    'nts":null}],"executor":{"state":"failed","name":null,"local":{"root":null,"log":"/tmp/evaltab/repo2/.dvc/tmp'
    '/exps/run/95e74115b64c8e7e7f6b573c85a973d0ccf72414/95e74115b64c8e7e7f6b573c85a973d0ccf72414.out","pid":14541'
    ',"returncode":255,"task_id":"95e74115b64c8e7e7f6b573c85a973d0ccf72414"}},"name":"table2-broken"}]}]'
)
"""A genuine `dvc exp show --json` (DVC 3.67.1; deps, outs and meta dropped) of a repo whose committed
params are the defaults (branch main, Full) with: table2-geo (run, then applied to the workspace),
table2-baseline (queued and run: success), table2-broken (failed; it still carries stale metrics) and
table2-full-fix2d (queued, not run)."""


# --------------------------------------------------------------------------- ablation

@pytest.mark.parametrize("overrides, name", [
    ({"adversarial": {"enabled": False}, "model": {"fix_2d": True}}, "Baseline (fix 2D)"),
    ({"adversarial": {"enabled": False}}, "Baseline"),
    ({"discriminator": {"sources": "map"}}, "Map"),
    ({"discriminator": {"sources": "geo"}}, "Geo"),
    ({"model": {"fix_2d": True}}, "Full (fix 2D)"),
    ({"adversarial": {"init": "pretrain_2d"}}, "Full (w/o pretrain)"),
    ({}, "Full"),
    ({"discriminator": {"sources": ["maps", "image", "geo"]}}, "Full"),
    ({"discriminator": {"sources": ["geo"]}}, "Adv. (geo)"),
    ({"discriminator": {"sources": "geo,maps"}, "model": {"fix_2d": "true"}}, "Adv. (geo+maps) (fix 2D)"),
    ({"adversarial": {"init": "pretrain_2d"}, "model": {"fix_2d": True}}, "Full (fix 2D, w/o pretrain)"),
])
def test_variant_names(overrides, name):
    params = {"model": {"fix_2d": False, "num_stacks": 2}, "discriminator": {"sources": "full"},
              "adversarial": {"enabled": True, "init": "pretrain_depth"}}
    for section, values in overrides.items():
        params[section] = {**params[section], **values}
    assert variant_name(params) == name


def test_variant_name_defaults_and_bad_flag():
    assert variant_name({}) == "Full"
    with pytest.raises(ValueError, match="adversarial.enabled: expected true or false"):
        variant_name({"adversarial": {"enabled": "maybe"}})


def test_variant_names_carry_the_options_that_differ():
    paper = {"adversarial": {"enabled": True, "lambda": 1e-4}}
    depth_critic = {"discriminator": {"sources": ["kcs"]},
                    "adversarial": {"enabled": True, "lambda": 1e-2, "d_steps": 5, "fake_2d": "truth"}}
    named = varying_options([paper, depth_critic])
    assert named == ("adversarial.lambda", "adversarial.d_steps", "adversarial.fake_2d")
    assert variant_name(depth_critic, named) == "Adv. (kcs) (lambda 0.01, 5 D steps, fakes with truth 2D)"
    assert variant_name(paper, named) == "Full (lambda 0.0001, 1 D steps, fakes with predicted 2D)"
    assert baseline_name(depth_critic, named) == "Baseline"


def test_the_symmetry_rule_names_its_rows_and_pairs_with_the_plain_baseline():
    """A non-adversarial control is named on a Baseline too, and its pair is the Baseline without it."""
    plain = {"adversarial": {"enabled": False}}
    rule = {"adversarial": {"enabled": False, "symmetry_weight": 1e-3}}
    both = {"discriminator": {"sources": ["kcs"]}, "adversarial": {"enabled": True, "symmetry_weight": 1e-3}}
    named = varying_options([plain, rule, both])
    assert "adversarial.symmetry_weight" in named
    assert variant_name(plain, named) == "Baseline"
    assert variant_name(rule, named) == "Baseline (symmetry rule 0.001)"
    assert variant_name(both, named) == "Adv. (kcs) (symmetry rule 0.001)"
    assert baseline_name(rule, named) == baseline_name(both, named) == "Baseline"


def test_experiment_rows_from_real_dvc_output():
    skipped = []
    rows = experiment_rows(json.loads(EXP_SHOW_JSON), skipped=skipped)
    assert [(r.label, r.kind, r.variant) for r in rows] == [
        ("main", "commit", "Full"), ("table2-baseline", "experiment", "Baseline"),
        ("table2-geo", "experiment", "Geo")]                  # the workspace repeats table2-geo: dropped
    assert rows[1].metrics["h36m"]["limbs"]["mean"] == 71.0
    assert sorted(skipped) == ["table2-broken: failed", "table2-full-fix2d: queued"]


def test_experiment_rows_keep_a_workspace_with_new_results():
    records = json.loads(EXP_SHOW_JSON)
    records[0]["data"]["metrics"]["metrics/evaluate.json"]["data"]["h36m"]["limbs"]["mean"] = 59.0
    rows = experiment_rows(records)
    assert rows[-1].label == "workspace" and rows[-1].kind == "workspace"
    with pytest.raises(ValueError, match="expected a JSON list of records"):
        experiment_rows({"workspace": {}})


def test_ablation_table_order_and_columns():
    def row(label, params, mean):
        metrics = {"h36m": {"p_mpjpe": mean / 2, "limbs": limbs(mean + 1, mean + 2, mean + 3, mean + 4, mean)}}
        return ExperimentRow(label, "abcdef123", "experiment", params, metrics)

    rows = [row("x-full", {}, 60.0), row("x-geo", {"discriminator": {"sources": "geo"}}, 61.0),
            row("x-custom", {"discriminator": {"sources": ["geo"]}}, 66.0),
            row("x-base", {"adversarial": {"enabled": False}}, 65.0),
            row("x-base-fix", {"adversarial": {"enabled": False}, "model": {"fix_2d": True}}, 65.2),
            row("x-full-s1", {"seed": 1}, 62.0), row("x-full-s2", {"seed": 2}, 64.0),
            row("main", {"seed": 2}, 64.0)]            # the same run as x-full-s2, listed twice
    table = ablation_table(rows)
    values = ["U.Arms", "L.Arms", "U.Legs", "L.Legs", "Mean"]
    assert list(table.columns) == ["Method", *(c for v in values for c in (v, f"{v} std", f"{v} paired",
                                                                          f"{v} paired se")),
                                   "Seeds", "Paired", "Experiments"]
    assert list(table["Method"]) == ["Baseline (fix 2D)", "Baseline", "Geo", "Full", "Adv. (geo)"]
    full = table.iloc[3]
    # Seeds 0, 1, 2 with means 60, 62, 64: mean 62, sample standard deviation 2.
    assert full[values].tolist() == [63.0, 64.0, 65.0, 66.0, 62.0]
    assert full["Mean std"] == pytest.approx(2.0) and full["U.Arms std"] == pytest.approx(2.0)
    assert full["Seeds"] == 3 and full["Experiments"] == "main x-full x-full-s1"
    assert table.iloc[0]["Experiments"] == "x-base-fix" and np.isnan(table.iloc[0]["Mean std"])
    # Paired with the Baseline of the same seed: only seed 0 has one (65.0), so one pair, no se.
    assert full["Mean paired"] == pytest.approx(60.0 - 65.0) and np.isnan(full["Mean paired se"])
    assert full["Paired"] == 1 and table.iloc[1]["Paired"] == 0 and np.isnan(table.iloc[1]["Mean paired"])
    assert table.iloc[2]["U.Arms paired"] == pytest.approx(62.0 - 66.0)
    wide = ablation_table(rows, extra=True)
    assert wide.iloc[3]["P-MPJPE"] == 31.0 and np.isnan(wide.iloc[3]["3DHP PCK"])
    assert wide.iloc[3]["P-MPJPE std"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="experiment broken: metrics/evaluate.json has no h36m.limbs"):
        ablation_table([ExperimentRow("broken", "r", "experiment", {}, {"h36m": {"mpjpe": 1.0}})])
    with pytest.raises(ValueError, match="no finished experiment"):
        ablation_table([])


def test_ablation_command_from_saved_json(tmp_path):
    saved = tmp_path / "exp.json"
    saved.write_text(EXP_SHOW_JSON)
    result = run_cli(tmp_path, ["ablation", "--input", str(saved), "--out-dir", str(tmp_path / "abl")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "abl/table2.csv")
    assert list(table["Method"]) == ["Baseline", "Geo", "Full"]
    assert table["Mean"].tolist() == [71.0, 61.0, 60.0]
    markdown = (tmp_path / "abl/table2.md").read_text()
    assert "| Baseline | 72.0 | - | - | - | 91.0 | - | - | - | 61.0 | - | - | - | 86.0 | - | - | - | 71.0 | - | - | - " \
           "| 1 | 0 | table2-baseline |" in markdown
    assert table.set_index("Method").loc["Geo", "Mean paired"] == pytest.approx(61.0 - 71.0)
    assert "skipped table2-broken: failed" in result.output
    (tmp_path / "bad.json").write_text("{not json")
    result = run_cli(tmp_path, ["ablation", "--input", str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "bad.json: not valid JSON" in result.output
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        load_exp_show(tmp_path / "nothing.json")


def test_ablation_table_from_run_folders_pairs_by_seed(tmp_path):
    """Run folders (params.yaml + metrics/evaluate.json, as screen_adversarial.py --test writes
    them): rows named by their options, each paired with the Baseline of its own seed."""
    def run(name, params, mean, symmetry):
        folder = tmp_path / name
        (folder / "metrics").mkdir(parents=True)
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        metrics = {"h36m": {"limbs": limbs(mean, mean, mean, mean, mean)},
                   "mpi_inf_3dhp": {"plausibility": {"symmetry_error": symmetry}}}
        (folder / "metrics/evaluate.json").write_text(json.dumps(metrics))
        return str(folder)

    kcs = {"discriminator": {"sources": ["kcs"], "objective": "wasserstein"}, "adversarial": {"lambda": 1e-3}}
    folders = [run("b0", {"seed": 0, "adversarial": {"enabled": False}}, 100.0, 100.0),
               run("b1", {"seed": 1, "adversarial": {"enabled": False}}, 90.0, 110.0),
               run("k0", {"seed": 0, **kcs}, 101.0, 80.0),
               run("k1", {"seed": 1, **kcs}, 93.0, 70.0)]
    (tmp_path / "empty").mkdir()
    result = run_cli(tmp_path, ["ablation", "--extra", "--out-dir", str(tmp_path / "abl"), *folders,
                                str(tmp_path / "empty")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "abl/table2.csv").set_index("Method")
    name = "Adv. (kcs) (objective wasserstein, lambda 0.001)"
    assert list(table.index) == ["Baseline", name]
    # Seed 0: +1.0 mm and -20 mm; seed 1: +3.0 and -40: means +2.0 and -30, se = std / sqrt(2).
    assert table.loc[name, "Mean paired"] == pytest.approx(2.0)
    assert table.loc[name, "Mean paired se"] == pytest.approx(np.std([1.0, 3.0], ddof=1) / np.sqrt(2))
    assert table.loc[name, "cross symmetry paired"] == pytest.approx(-30.0)
    assert table.loc[name, "cross symmetry paired se"] == pytest.approx(np.std([-20.0, -40.0], ddof=1) / np.sqrt(2))
    assert table.loc[name, "Paired"] == 2 and np.isnan(table.loc["Baseline", "Mean paired"])
    assert "no metrics/evaluate.json" in result.output or "no params.yaml" in result.output


# --------------------------------------------------------------------------- queue script

def git(repo, *args, env):
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def test_queue_script_queues_the_seven_variants_with_seeds(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1"}
    git(repo, "init", "-q", env=env)
    (repo / "params.yaml").write_text("seed: 0\n")
    (repo / "dvc.yaml").write_text("stages: {}\n")
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-qm", "init", env=env)
    log = tmp_path / "calls.txt"
    fake = tmp_path / "fake_dvc"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> "{log}"\n')
    fake.chmod(0o755)
    script = ROOT / "scripts/queue_table2.sh"
    result = subprocess.run(["bash", str(script), "--jobs", "2", "-S", "adversarial.iterations=5"], cwd=repo,
                            env={**env, "DVC": str(fake)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    extra = " -S adversarial.iterations=5"
    assert len(calls) == 7 * 3 + 1 and calls[-1] == "queue start -j 2"      # seven variants x seeds 0, 1, 2
    assert calls[:7] == [
        "exp run --queue -n table2-baseline-fix2d-s0 -S seed=0 -S adversarial.enabled=false -S model.fix_2d=true"
        + extra,
        "exp run --queue -n table2-baseline-s0 -S seed=0 -S adversarial.enabled=false" + extra,
        "exp run --queue -n table2-map-s0 -S seed=0 -S discriminator.sources=map" + extra,
        "exp run --queue -n table2-geo-s0 -S seed=0 -S discriminator.sources=geo" + extra,
        "exp run --queue -n table2-full-fix2d-s0 -S seed=0 -S model.fix_2d=true" + extra,
        "exp run --queue -n table2-full-wo-pretrain-s0 -S seed=0 -S adversarial.init=pretrain_2d" + extra,
        "exp run --queue -n table2-full-s0 -S seed=0" + extra,
    ]
    assert calls[20] == "exp run --queue -n table2-full-s2 -S seed=2" + extra
    # a subset of seeds and variants, queued only
    log.unlink()
    result = subprocess.run(["bash", str(script), "--seeds", "3 4", "--variants", "baseline full", "--no-start"],
                            cwd=repo, env={**env, "DVC": str(fake)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "exp run --queue -n table2-baseline-s3 -S seed=3 -S adversarial.enabled=false",
        "exp run --queue -n table2-full-s3 -S seed=3",
        "exp run --queue -n table2-baseline-s4 -S seed=4 -S adversarial.enabled=false",
        "exp run --queue -n table2-full-s4 -S seed=4"]
    assert "queued 4 experiments" in result.stdout
    log.unlink()
    result = subprocess.run(["bash", str(script), "--variants", "fancy"], cwd=repo, env={**env, "DVC": str(fake)},
                            capture_output=True, text=True)
    assert result.returncode == 1 and "unknown variant 'fancy'" in result.stderr and not log.exists()
    # uncommitted params would leak into every queued variant: refused
    (repo / "params.yaml").write_text("seed: 1\n")
    log.unlink(missing_ok=True)
    result = subprocess.run(["bash", str(script)], cwd=repo, env={**env, "DVC": str(fake)},
                            capture_output=True, text=True)
    assert result.returncode == 1 and "params.yaml or dvc.yaml differ from the last commit" in result.stderr
    assert not log.exists()
