"""Stage tables: Tables 1-4 and the figures of one run; `ablation`: Table 2 across experiments.

    python -m stages.tables [--params params.yaml]
        reads metrics/evaluate.json, predictions/, the prepared lab and wild test files and
        dvclive/<stage>/plots; writes reports/tables/table{1_h36m,2_limbs,3_mpii_pckh,4_3dhp}.{md,csv}
        and figures/{qualitative_h36m,qualitative_mpii,training_curves}.png

    python -m stages.tables ablation [--input exp_show.json] [--out-dir ablation] [--extra] [RUN_DIRS...]
        reads `dvc exp show --json` (or a saved copy) and writes <out-dir>/table2.{md,csv}:
        one row per finished experiment, named like the paper's variants
"""

from __future__ import annotations

from pathlib import Path

import click

from posegan.config import ParamsFile
from posegan.data.sets import scored_sets
from posegan.data.dataset import PreparedData
from posegan.evaluate import FINAL, EvaluateSettings, load_predictions
from posegan.report.files import read_json
from posegan.report.ablation import (ablation_table, experiment_rows, load_exp_show, run_exp_show, run_folder_rows,
                                     variant_name)
from posegan.report.figures import (TablesSettings, lab_samples, load_training_curves, qualitative_figure,
                                    save_figure, training_curves_figure, wild_samples)
from posegan.report.tables import StagedFiles, labels_for, stage_table, stage_tables, to_markdown
from stages.cli import clear_errors, params_option

METRICS = Path("metrics/evaluate.json")
PREDICTIONS = Path("predictions")
LIVE = Path("dvclive")
REPORTS = Path("reports/tables")
FIGURES = Path("figures")
# The qualitative figures of the sets the dataset table gives one (posegan.data.sets), by the set's
# scorer: (unit of the 3D panels, title). A 3D set's panels are in mm, a 2D set's in heatmap pixels.
QUALITATIVE = {
    "lab": ("mm", "Lab test set (cf. Figure 4)"),
    "wild": ("heatmap px", "Wild validation set (cf. Figure 6; no 3D ground truth)"),
}


def read_metrics(path: Path) -> dict:
    return read_json(path, "evaluation metrics not found (run the evaluate stage)", "re-run the evaluate stage")


@click.group(invoke_without_command=True)
@params_option
@click.pass_context
def main(ctx: click.Context, params_path: str) -> None:
    """Without a subcommand: the tables stage of the pipeline."""
    if ctx.invoked_subcommand is None:
        tables_stage(params_path)


@clear_errors
def tables_stage(params_path: str) -> None:
    params = ParamsFile.read(params_path)
    settings, data = params.section("evaluate", EvaluateSettings), params.section("data", PreparedData)
    figure_samples = params.section("tables", TablesSettings).figure_samples
    prepared_dir = data.prepared_dir
    final = variant_name(params.raw)
    labels = labels_for(final)
    metrics = read_metrics(METRICS)
    with StagedFiles() as staged:
        stage_tables(staged, metrics, REPORTS, labels, settings.pck_threshold, settings.pckh_threshold)
        for test_set, entry in scored_sets().items():
            if entry.figure is None:
                continue
            unit, title = QUALITATIVE[entry.scorer]
            predictions = {labels[name]: load_predictions(PREDICTIONS, f"{name}_{test_set}")
                           for name in ("pretrained", FINAL)}
            prepared = entry.path(prepared_dir)
            if entry.scorer == "lab":
                samples = lab_samples(prepared, predictions, figure_samples)
            else:
                samples = wild_samples(prepared, predictions, figure_samples)
            title = (f"{title}: {labels['pretrained']} vs {final}. Rows: evenly spaced ranks of the error change, "
                     "largest improvement at the top, largest regression at the bottom")
            save_figure(staged, qualitative_figure(samples, unit, title), FIGURES / f"{entry.figure}.png")
        curves, lengths = load_training_curves(LIVE)
        save_figure(staged, training_curves_figure(curves, lengths), FIGURES / "training_curves.png")
        written = staged.commit()
    click.echo(f"tables: wrote {len(written)} files under {REPORTS}/ and {FIGURES}/ (final model: {final})")


@main.command()
@click.option("--input", "input_path", type=click.Path(dir_okay=False), default=None,
              help="a saved `dvc exp show --json` output (default: run it now)")
@click.option("--out-dir", default="ablation", show_default=True, help="folder for table2.md and table2.csv")
@click.option("--all-commits", is_flag=True, help="include experiments of every commit (dvc exp show -A)")
@click.option("--extra", is_flag=True, help="add P-MPJPE, wild PCKh, cross-domain PCK/AUC, cross symmetry and "
                                           "wild 3D MPJPE columns")
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False))
@clear_errors
def ablation(input_path: str | None, out_dir: str, all_commits: bool, extra: bool, run_dirs: tuple[str, ...]) -> None:
    """Table 2 (U.Arms, L.Arms, U.Legs, L.Legs, Mean): one row per variant, mean and std over its seeds,
    and the paired difference to the same seed's Baseline.

    From `dvc exp show`, or, given RUN_DIRS, from run folders (each with params.yaml and
    metrics/evaluate.json, as `scripts/screen_adversarial.py --test` writes them)."""
    skipped: list[str] = []
    if run_dirs:
        rows = run_folder_rows(run_dirs, skipped=skipped)
    else:
        exp_show = load_exp_show(input_path) if input_path else run_exp_show(all_commits)
        rows = experiment_rows(exp_show, skipped=skipped)
    table = ablation_table(rows, extra=extra)
    caption = ("**Table 2 (ablation).** Protocol #1 error (mm) on the lab test set of the joints that end each "
               "limb; Mean = all-joint MPJPE. One row per variant: the mean over its experiments (training seeds), "
               "with the standard deviation beside each column, then the paired difference to the Baseline of the "
               "same seed and its standard error (Seeds, Paired, Experiments).")
    out = Path(out_dir)
    with StagedFiles() as staged:
        stage_table(staged, table, out / "table2", caption)
        staged.commit()
    for reason in skipped:
        click.echo(f"skipped {reason}", err=True)
    click.echo(to_markdown(table, 1))
    click.echo(f"ablation: {len(table)} rows -> {out / 'table2.md'}, {out / 'table2.csv'}")


if __name__ == "__main__":
    main()
