"""`fedscore train --party NAME=FILE` works on its own: keys, node configs, consent wiring."""

from __future__ import annotations

import pytest
from table_support import granted_consent

from fedscore.clients.party_setup import write_party_node
from fedscore.core.errors import ConfigError
from fedscore.core.tabular import write_table
from fedscore.datasets import default_task_path

pytestmark = pytest.mark.simulation


def test_two_tables_and_their_consent_records_are_all_a_run_needs(tmp_path, market, fedscore_cli):
    args = ["train", "--rounds", "1", "--workdir", str(tmp_path / "work")]
    data = tmp_path / "data"  # the keys go under --workdir, apart from the data
    data.mkdir()
    for name in ("large_bank", "city_bank"):
        table = market.parties[name].head(4000)
        write_table(table, data / f"{name}.csv")
        write_table(granted_consent(table), data / f"{name}-consent.csv")
        args += ["--party", f"{name}={data / f'{name}.csv'}"]
        args += ["--consent", f"{name}={data / f'{name}-consent.csv'}"]
    result = fedscore_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("large_bank", "city_bank"):
        home = tmp_path / "work" / "institutions" / name
        assert (home / "keys").is_dir() and oct((home / "keys").stat().st_mode & 0o777) == "0o700"
        assert (home / "state" / "privacy.sqlite").is_file()


def test_a_party_name_that_could_name_a_path_is_refused_before_anything_is_written(
    tmp_path, fedscore_cli
):
    table = tmp_path / "t.csv"
    table.write_text("customer_id\n1\n")
    result = fedscore_cli(
        "train", "--party", f"../../escape={table}", "--workdir", str(tmp_path / "work"),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lower-case letters" in result.stderr
    assert not (tmp_path / "escape").exists() and not any((tmp_path / "work").rglob("keys"))
    for name in ("a;rm", "Bank", "a/b", ""):
        with pytest.raises(ConfigError, match="lower-case letters"):
            write_party_node(tmp_path / "w" / "x", name, table, default_task_path(), 1.0)
    assert not (tmp_path / "w").exists()


def test_consent_for_an_unknown_party_is_an_error(tmp_path, fedscore_cli):
    table = tmp_path / "t.csv"
    table.write_text("customer_id\n1\n")
    result = fedscore_cli(
        "train", "--party", f"bank={table}", "--consent", f"other={table}",
        "--workdir", str(tmp_path / "work"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "--consent names no --party institution" in result.stderr
