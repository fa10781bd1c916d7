"""Stage preprocess: write the prepared data files (and a contact sheet of them).

    python -m stages.preprocess [--params params.yaml] [--contact-sheet reports/contact_sheet.png]

With `data.source: synthetic` (the default) it generates the built-in two-domain benchmark
(posegan.data.synthetic) into `data.prepared_dir`: h36m_train.h5, h36m_test.h5,
mpii_train.h5, mpii_valid.h5, mpi_inf_3dhp_test.h5 and mpi_inf_3dhp_valid.h5 (for choosing settings).
With `data.source: real` it crops the
user's copies of Human3.6M, MPII and MPI-INF-3DHP (roots in `data.real`, see
docs/real-datasets.md) into the same five files (posegan.data.real), or into those of the
datasets whose root is set (e.g. mpi_inf_3dhp_test.h5 alone, to evaluate a model on 3DHP).
Everything is written under temporary names and renamed when complete; on an error nothing
is left behind and the previous outputs stay as they were.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from posegan.atomic_files import probe_writable
from posegan.config import ParamsError, ParamsFile
from posegan.data.schema import read_prepared
from posegan.data.real import datasets_with_roots
from posegan.data import sets
from posegan.data.sets import real_sets
from posegan.data.preprocess_settings import DataSettings
from posegan.data.synthetic.benchmark import write_benchmark
from posegan.report.contact_sheet import make_contact_sheet

SOURCES = ("synthetic", "real")
# The keys of `data` this stage reads.
USED_KEYS = ("source", "prepared_dir", "image_size", "synthetic", "real")


def check_writable(folder: Path, parameter: str) -> None:
    """Create `folder` if needed and make sure a file can be written in it (ParamsError otherwise)."""
    try:
        probe_writable(folder)
    except OSError as err:
        raise ParamsError(f"{parameter}: cannot write to the folder '{folder}' ({err.strerror or err})") from err


def read_data_params(params_path: str) -> tuple[dict, DataSettings]:
    """(the raw keys of `data` this stage uses, as recorded in the prepared files; the checked
    `data` section)."""
    params = ParamsFile.read(params_path)
    data = params.section("data", DataSettings)
    if data.source == "real" and not datasets_with_roots(data.real):
        roots = ", ".join(f"data.real.{dataset}_root" for dataset in real_sets())
        raise ParamsError(f"{params_path}: data.source is real but none of {roots} is set: point the ones you have "
                          "at your copies (docs/real-datasets.md), or use data.source: synthetic")
    raw = params.raw["data"]
    used = {k: raw[k] for k in USED_KEYS if k in raw}
    if data.source == "synthetic":
        # The synthetic files record the real datasets' roots (all null) and none of data.real's
        # other keys: the record of earlier releases, so that the files keep their bytes and
        # their DVC hashes (the synthetic data does not depend on data.real at all).
        used["real"] = {f"{dataset}_root": data.real.root(dataset) for dataset in ("h36m", "mpii", "mpi_inf_3dhp")}
    return used, data


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="params file")
@click.option("--contact-sheet", "sheet_path", default="reports/contact_sheet.png", show_default=True,
              type=click.Path(dir_okay=False), help="PNG of sample crops with their 2D skeletons")
@click.option("--progress/--no-progress", default=True, help="report progress on stderr")
def main(params_path: str, sheet_path: str, progress: bool) -> None:
    try:
        used, data = read_data_params(params_path)
        out_dir = Path(data.prepared_dir)
        check_writable(out_dir.parent, f"{params_path}: data.prepared_dir")
        check_writable(Path(sheet_path).parent, "--contact-sheet")
    except ParamsError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)

    started = time.perf_counter()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if progress and (now - last[0] > 5.0 or done == total):
            last[0] = now
            click.echo(f"preprocess: {done}/{total} samples ({now - started:.0f} s)", err=True)

    if data.source == "real":
        from posegan.data.real import RealDataError, output_paths, prepare_real

        # Prepare what you have: only the datasets whose root is set. Files of the others left
        # from an earlier run would be stale (another source or other parameters): remove them,
        # so that a stage needing one fails with a message naming the missing root.
        present = datasets_with_roots(data.real)
        missing = [d for d in real_sets() if d not in present]
        try:
            paths = prepare_real(data.real, out_dir, data.image_size, datasets=present,
                                 progress=progress)
        except RealDataError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        for stale in output_paths(out_dir, missing):
            if stale.exists():
                stale.unlink()
                click.echo(f"preprocess: removed {stale} (left from an earlier run; data.real."
                           f"{stale.stem.rsplit('_', 1)[0]}_root is not set)", err=True)
        if missing:
            click.echo(f"preprocess: not prepared (root not set): {', '.join(missing)}; stages that need them "
                       "will say so", err=True)
    else:
        paths = write_benchmark(out_dir, data.synthetic, params=used, progress=report)
    titles = {entry.name: entry.title for entry in sets.SETS if entry.title is not None}
    make_contact_sheet([(titles[p.stem], p) for p in paths if p.stem in titles], sheet_path)
    sizes = ", ".join(f"{p.name} {read_prepared(p, fields=[])[1]['num_samples']}" for p in paths)
    click.echo(f"preprocess: wrote {sizes} in {time.perf_counter() - started:.1f} s; contact sheet {sheet_path}")


if __name__ == "__main__":
    main()
