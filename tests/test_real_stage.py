"""The preprocess stage with data.source: real, on specimens of all three datasets."""

import yaml
from click.testing import CliRunner

import real_specimens as rs
from fakes import DEFAULT_REAL
from posegan.data.schema import read_prepared
from stages.preprocess import main

SEQUENCES = {"TS1": {"valid": [1, 1, 0, 1], "activity": [1, 2, 2, 3], "camera": [150.0, 150.0, 80.0, 60.0],
                     "size": (160, 120)}}


def test_preprocess_stage_prepares_the_real_datasets(tmp_path):
    rs.write_h36m(tmp_path / "h36m")
    people = rs.mpii_people()
    rs.write_mpii_images(tmp_path / "mpii", people)
    rs.write_mpii_hourglass(tmp_path / "mpii", people[:6], people[6:])
    rs.write_3dhp(tmp_path / "3dhp", SEQUENCES)
    data = {"source": "real", "prepared_dir": str(tmp_path / "prepared"), "image_size": 64,
            "real": {**DEFAULT_REAL, "h36m_root": str(tmp_path / "h36m"), "mpii_root": str(tmp_path / "mpii"),
                     "mpi_inf_3dhp_root": str(tmp_path / "3dhp"), "workers": 1,
                     "h36m_train_subjects": ["S1"], "h36m_test_subjects": ["S9"],
                     "mpi_inf_3dhp_sequences": ["TS1"],
                     "mpi_inf_3dhp_intrinsics": {"TS1": SEQUENCES["TS1"]["camera"]}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "data": data}))
    sheet = tmp_path / "reports/contact_sheet.png"
    result = CliRunner().invoke(main, ["--params", str(tmp_path / "params.yaml"), "--contact-sheet", str(sheet),
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    counts = {}
    for name in ("h36m_train", "h36m_test", "mpii_train", "mpii_valid", "mpi_inf_3dhp_test"):
        arrays, attrs = read_prepared(tmp_path / "prepared" / f"{name}.h5")
        assert attrs["source"] == "real" and attrs["image_size"] == 64
        counts[name] = attrs["num_samples"]
    # S1: 2 sequences x 2 cameras x 3 frames; S9: 1 x 2 x 3; MPII 6 + 2 people; 3 valid 3DHP frames.
    assert counts == {"h36m_train": 12, "h36m_test": 6, "mpii_train": 6, "mpii_valid": 2, "mpi_inf_3dhp_test": 3}
    assert sheet.exists()
