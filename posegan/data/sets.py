"""The prepared datasets: one table of every file the pipeline prepares, and what each is for.

Every part that needs to know which file is the lab, the wild or the cross-domain set reads
this table: the training stages (their training and validation data, `training_sets`), the
evaluate stage and `posegan evaluate` (the test sets, `scored_sets`, each with its scorer and
the report table it feeds), the scripts that choose settings (the validation splits,
`validation_sets`), the tables stage (the sets drawn in the qualitative figures),
preprocess (its contact sheet's titles; the real-data readers and their parameters) and the
prepared-file schema (the dataset names a file may carry). `tests/test_dataset_table.py`
checks that dvc.yaml's deps and outs agree with it, and docs/add-evaluation-dataset.md adds
an evaluation set by adding a row (and its reader).

A row (`PreparedSet`):

- dataset, split: the file `<dataset>_<split>.h5` under `data.prepared_dir` and its
  `dataset` / `split` attributes.
- role: what the file is in the paper's setting (`ROLES`).
- title: one line for people (the contact sheet's row title; None: not on the sheet).
- training: the name the training loops give it (lab_train, wild_train: minibatches;
  lab_val, wild_val: validation), or None when no training stage reads it.
- key: for a test set, its key in metrics/evaluate.json and its `posegan evaluate --set`
  name; scorer: how it is scored (a name in `posegan.scoring.SCORERS`); table: the report
  table its scores feed; optional: None when the evaluate stage needs the file, else why it
  may be absent (the stage then skips it with this note); figure: the qualitative figure of
  the tables stage that draws its samples (None: none).
- validation_key: for a split that settings are chosen on (scripts/sweep_lambda.py,
  scripts/screen_adversarial.py, scripts/diagnose_discriminator.py), the key of the test set it
  stands in for, whose scorer it is scored with (None: settings are not chosen on it).
- has_3d: whether its samples have 3D labels (the wild sets have 2D labels only).
- reader: for real data, the function that reads the user's copy, as "module:function"
  (`reader(settings, splits, policy)` yielding (split, (PersonTable, name tables)); see
  posegan.data.real), or None for a file only the synthetic benchmark makes; real_params:
  the `data.real` keys the file depends on (recorded in it, so that a change rebuilds it).

This module imports nothing of posegan, so that every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# What a prepared file is in the paper's setting.
ROLES = {
    "lab_train": "lab images with 3D labels, for training (Human3.6M S1 S5 S6 S7 S8)",
    "lab_test": "lab images with 3D labels, for testing (Human3.6M S9 S11; Tables 1 and 2)",
    "wild_train": "in-the-wild images with 2D labels only, for training (MPII)",
    "wild_valid": "in-the-wild images with 2D labels only, for testing (MPII validation; Table 3)",
    "cross_test": "another domain with 3D labels, for testing only (MPI-INF-3DHP test; Table 4)",
    "cross_valid": "the cross-domain set's validation split, for choosing settings",
    "evaluation_only": "a set no training stage reads, scored by the evaluate stage",
}


@dataclass(frozen=True)
class PreparedSet:
    """One prepared file and what it is for (see the module docstring)."""

    dataset: str
    split: str
    role: str
    title: str | None = None
    training: str | None = None
    key: str | None = None
    scorer: str | None = None
    table: str | None = None
    optional: str | None = None
    figure: str | None = None
    validation_key: str | None = None
    has_3d: bool = True
    reader: str | None = None
    real_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"dataset table: {self.file_name} has role {self.role!r}; expected one of {list(ROLES)}")
        if (self.key is None) != (self.scorer is None):
            raise ValueError(f"dataset table: {self.file_name} needs both a key and a scorer, or neither")

    @property
    def name(self) -> str:
        """`<dataset>_<split>`, the file's stem."""
        return f"{self.dataset}_{self.split}"

    @property
    def file_name(self) -> str:
        return f"{self.name}.h5"

    def path(self, prepared_dir: str | Path) -> Path:
        """The file under the prepared-data folder."""
        return Path(prepared_dir) / self.file_name


_REAL_COMMON = ("on_error",)
H36M_PARAMS = ("h36m_root", *_REAL_COMMON, "crop_margin", "h36m_train_subjects", "h36m_test_subjects",
               "h36m_train_frame_step", "h36m_test_frame_step")
MPII_PARAMS = ("mpii_root", *_REAL_COMMON, "mpii_annotations", "mpii_scale_factor", "mpii_valid_fraction")
MPI_INF_3DHP_PARAMS = ("mpi_inf_3dhp_root", *_REAL_COMMON, "crop_margin", "mpi_inf_3dhp_sequences",
                       "mpi_inf_3dhp_frame_step", "mpi_inf_3dhp_joints_3d", "mpi_inf_3dhp_intrinsics")

# The table, in the order the files are listed (and the test sets are scored and reported).
SETS: tuple[PreparedSet, ...] = (
    PreparedSet("h36m", "train", "lab_train", title="h36m_train: lab (S1 S5 S6 S7 S8), 3D", training="lab_train",
                reader="posegan.data.real.h36m:read_splits", real_params=H36M_PARAMS),
    PreparedSet("h36m", "test", "lab_test", title="h36m_test: lab (S9 S11), 3D", training="lab_val",
                key="h36m", scorer="lab", table="table1_h36m, table2_limbs", figure="qualitative_h36m",
                reader="posegan.data.real.h36m:read_splits", real_params=H36M_PARAMS),
    PreparedSet("mpii", "train", "wild_train", title="mpii_train: wild, 2D only", training="wild_train", has_3d=False,
                reader="posegan.data.real.mpii:read_splits", real_params=MPII_PARAMS),
    PreparedSet("mpii", "valid", "wild_valid", title="mpii_valid: wild, 2D only", training="wild_val",
                key="mpii", scorer="wild", table="table3_mpii_pckh", figure="qualitative_mpii", validation_key="mpii",
                has_3d=False,
                reader="posegan.data.real.mpii:read_splits", real_params=MPII_PARAMS),
    PreparedSet("mpi_inf_3dhp", "test", "cross_test", title="mpi_inf_3dhp_test: cross-domain, 7 activities, 3D",
                key="mpi_inf_3dhp", scorer="cross", table="table4_3dhp",
                reader="posegan.data.real.mpi_inf_3dhp:read_splits", real_params=MPI_INF_3DHP_PARAMS),
    # Looks like mpi_inf_3dhp_test (other subjects): no row of its own on the contact sheet.
    PreparedSet("mpi_inf_3dhp", "valid", "cross_valid", validation_key="mpi_inf_3dhp"),
    PreparedSet("mpii", "valid3d", "evaluation_only", key="mpii_3d", scorer="wild_3d", validation_key="mpii_3d",
                optional="3D in the wild needs the wild set's true 3D, which only the synthetic benchmark has "
                         "(real MPII has no 3D labels)"),
)


def find_set(dataset: str, split: str) -> PreparedSet:
    """The row of `<dataset>_<split>` (KeyError naming the known files otherwise)."""
    for entry in SETS:
        if (entry.dataset, entry.split) == (dataset, split):
            return entry
    raise KeyError(f"no prepared set {dataset}_{split}; known: {[s.name for s in SETS]}")


def datasets() -> tuple[str, ...]:
    """The dataset names of the table, first-seen order (what a prepared file's `dataset` may be)."""
    return tuple(dict.fromkeys(entry.dataset for entry in SETS))


def scored_sets() -> dict[str, PreparedSet]:
    """The sets the evaluate stage scores, by their key in evaluate.json, in table order."""
    return {entry.key: entry for entry in SETS if entry.key is not None}


def validation_sets() -> dict[str, PreparedSet]:
    """The splits settings are chosen on (never a test split), by the key of the test set each
    stands in for (mpii, mpi_inf_3dhp, mpii_3d), in table order."""
    return {entry.validation_key: entry for entry in SETS if entry.validation_key is not None}


def training_sets() -> dict[str, PreparedSet]:
    """The sets the training stages read, by the loops' names (lab_train, wild_train, lab_val, wild_val)."""
    return {entry.training: entry for entry in SETS if entry.training is not None}


def by_role(role: str) -> PreparedSet:
    """The one set of `role` (lab_train, ...); KeyError when there is none or more than one."""
    found = [entry for entry in SETS if entry.role == role]
    if len(found) != 1:
        raise KeyError(f"dataset table: {len(found)} sets have role {role!r}")
    return found[0]


def real_sets() -> dict[str, tuple[PreparedSet, ...]]:
    """The sets prepared from real data, grouped by dataset (in table order)."""
    grouped: dict[str, list[PreparedSet]] = {}
    for entry in SETS:
        if entry.reader is not None:
            grouped.setdefault(entry.dataset, []).append(entry)
    return {dataset: tuple(entries) for dataset, entries in grouped.items()}


# The training file whose mean root-relative pose is the mean-pose predictor (the floor of 3D scores).
MEAN_POSE_SOURCE = "lab_train"
