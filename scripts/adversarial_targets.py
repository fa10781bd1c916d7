"""Which variants of a Table 2 meet issue 18's targets for adversarial learning?

    python scripts/adversarial_targets.py ablation/plausibility_round*/table2.csv [--out targets.md]

Each TABLE is a `table2.csv` written by `python -m stages.tables ablation --extra` (the paired
columns against each seed's Baseline). For every variant with a paired Baseline it prints the
paired changes (mean ± standard error over seeds) of the cross-domain limb symmetry error (in %
of the Baseline's), the wild 3D MPJPE, the cross-domain PCK and the lab MPJPE, and which of the
four targets it meets (`posegan/report/targets.py`): symmetry at least 25% lower, wild 3D lower
by more than 2 s.e., cross PCK and lab MPJPE not worse by more than 2 s.e., over 3 seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import replacing  # noqa: E402
from posegan.errors import InputDataError  # noqa: E402
from posegan.report.targets import target_verdicts, verdicts_markdown  # noqa: E402
from stages.cli import clear_errors  # noqa: E402


@click.command()
@click.argument("tables", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="also write the Markdown table here")
@clear_errors
def main(tables, out):
    verdicts = []
    for path in tables:
        try:
            table = pd.read_csv(path)
            found = target_verdicts(table)
        except (ValueError, pd.errors.ParserError) as err:
            raise InputDataError(f"{path}: {err}") from err
        verdicts.append(found.assign(Method=found["Method"] + f" [{Path(path).parent.name}]"))
    text = verdicts_markdown(pd.concat(verdicts, ignore_index=True))
    print(text, end="")
    if out:
        with replacing(out) as tmp:
            Path(tmp).write_text(text)


if __name__ == "__main__":
    main()
