"""The params loader (posegan/config.py): numbers as people and `dvc exp run -S` write them, unknown
top-level keys, and YAML syntax errors with their line."""

import shutil
from pathlib import Path

import pytest

from posegan.config import SECTIONS, ParamsError, ParamsFile, load_yaml
from posegan.train.adversarial import AdversarialSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, value", [("1e-4", 1e-4), ("1e-05", 1e-5), ("1.0e-4", 1e-4), ("2E5", 2e5),
                                         (".5", 0.5), ("-.5", -0.5), ("1_000", 1000), ("+1e3", 1e3),
                                         ("3", 3)])
def test_numbers_as_people_write_them(text, value):
    read = load_yaml(f"x: {text}", "p.yaml")["x"]
    assert read == value and isinstance(read, type(value)) and not isinstance(read, bool)


@pytest.mark.parametrize("text", ["1e", "e5", "1.2.3", "abc", "1e-4x"])
def test_words_stay_words(text):
    assert load_yaml(f"x: {text}", "p.yaml")["x"] == text


def params_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "params.yaml").read_text()
    assert old in text
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("written", ["1e-4", "1e-05"])
def test_lambda_written_with_an_exponent_is_accepted(tmp_path, written):
    path = params_copy(tmp_path, "lambda: 1.0e-4", f"lambda: {written}")
    settings = ParamsFile.read(path).section("adversarial", AdversarialSettings)
    assert settings.lambda_ == float(written)


def test_dvc_set_param_override_is_accepted(tmp_path):
    """`dvc exp run -S adversarial.lambda=1e-5` rewrites params.yaml through this function."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    apply_overrides(path, ["adversarial.lambda=1e-5"])
    assert "lambda: 1e-05" in path.read_text()            # how DVC writes it: YAML 1.2, no dot
    assert ParamsFile.read(path).section("adversarial", AdversarialSettings).lambda_ == 1e-5


def test_unknown_top_level_key_stops(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text() + "sede: 1\n")
    with pytest.raises(ParamsError, match=r"params.yaml: unknown top-level key sede \(expected one of: seed, data"):
        ParamsFile.read(path)


def test_params_yaml_uses_only_known_sections():
    assert set(ParamsFile.read(ROOT / "params.yaml").raw) == set(SECTIONS)


def test_yaml_error_names_the_line(tmp_path):
    path = params_copy(tmp_path, "  num_blocks: 1 ", "  num_blocks: [1 ")
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "num_blocks: [1" in text)
    with pytest.raises(ParamsError) as err:
        ParamsFile.read(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not valid YAML at line ") and len(message.splitlines()) == 1
    reported = int(message.split("at line ")[1].split(",")[0])
    assert line <= reported <= line + 1, message


def test_yaml_error_also_names_where_an_unclosed_bracket_opened():
    from posegan.config import load_yaml

    with pytest.raises(ParamsError) as err:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "p.yaml")
    message = str(err.value)
    assert message.startswith("p.yaml: not valid YAML at line 3, column 2")
    assert "flow sequence at line 2" in message and len(message.splitlines()) == 1


def test_stage_command_reports_the_unknown_key(tmp_path):
    from click.testing import CliRunner

    from stages.evaluate import main

    path = tmp_path / "p.yaml"
    path.write_text("sede: 1\n")
    result = CliRunner().invoke(main, ["--params", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {path}: unknown top-level key sede (expected one of: {', '.join(SECTIONS)})"
