"""The shared helpers for atomic writes and evenly spaced subsets."""

import json

import numpy as np
import pytest

from posegan.atomic_files import replacing, temporary_path, write_json_atomic, write_text_atomic
from posegan.subsets import evenly_spaced


def test_evenly_spaced_by_hand():
    assert evenly_spaced(10, 4).tolist() == [0, 3, 6, 9]
    assert evenly_spaced(5, 3).tolist() == [0, 2, 4]
    assert evenly_spaced(3, 10).tolist() == [0, 1, 2]
    assert evenly_spaced(4, None).tolist() == [0, 1, 2, 3]
    assert evenly_spaced(0, 5).tolist() == []
    assert evenly_spaced(7, 1).tolist() == [0]
    assert evenly_spaced(10, 4).dtype == np.int64


def test_evenly_spaced_matches_the_old_formula():
    for n in (1, 2, 17, 600, 1050):
        for count in (1, 2, 5, 200, 256):
            old = np.unique(np.linspace(0, n - 1, min(n, count)).round().astype(np.int64))
            assert evenly_spaced(n, count).tolist() == old.tolist()


def test_atomic_writes(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"b": 1, "a": 2}, sort_keys=True)
    assert target.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    write_text_atomic(target, "x")
    assert target.read_text() == "x"
    assert not temporary_path(target).exists()


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert not temporary_path(target).exists()
