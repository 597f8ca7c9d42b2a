"""`fedscore schema check|draft`: every problem listed (file, row, column, never a value),
drafts refused until every "TO AGREE" mark is resolved, and the rules a schema is checked
against when it is parsed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedscore.cli import schemas as schema_cli
from fedscore.core.errors import SchemaError, TableValidationError
from fedscore.core.schema import Role, parse_schema
from fedscore.core.tabular import read_table, write_table
from fedscore.core.validation import check_frame, validate_frame
from fedscore.datasets import default_task_path
from fedscore.datasets.market import bundled_dataset_path, load_bundled, split_market
from fedscore.datasets.schema_tools import (
    SAMPLE_ROWS,
    check_schema_file,
    check_table_sample,
    draft_schema,
)
from fedscore.datasets.schema_tools.dp_bounds import CANDIDATES, dp_bounds
from fedscore.demo.identities import add_identities

FEDSCORE = Path(sys.executable).parent / "fedscore"
LABEL = "default.payment.next.month"
#: The bundled data's columns holding a person's identity (the demo's synthetic ones).
PERSONAL = ("customer_id", "name", "id_number", "mobile", "card_number")


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    """About a thousand rows of the large bank, with identities: the bundled data, small."""
    market = add_identities(split_market(load_bundled().head(3000)))
    return market.parties["large_bank"].reset_index(drop=True)


@pytest.fixture()
def bank_csv(tmp_path, bank) -> Path:
    path = tmp_path / "customers.csv"
    write_table(bank, path)
    return path


def personal_values(table: pd.DataFrame) -> list[str]:
    """Every value of the table's personal columns, as written to its file."""
    return [str(v) for column in PERSONAL for v in table[column].astype(str)]


def assert_no_personal_value(text: str, table: pd.DataFrame) -> None:
    tokens = set(re.split(r"[\s,;:()'\"\[\]=]+", text))
    leaked = tokens & set(personal_values(table))
    assert not leaked, f"personal values in the output: {sorted(leaked)[:3]}"


def test_the_bundled_task_and_a_bank_table_check_clean(bank_csv, bank):
    schema, report = check_schema_file(default_task_path())
    assert schema is not None and report.ok, report.problems
    assert any("key ring for purpose 'credit_risk_scoring'" in note for note in report.notes)
    assert any("consent table" in note for note in report.notes)
    read, table_report = check_table_sample(schema, bank_csv)
    assert read == len(bank) < SAMPLE_ROWS
    assert table_report.ok, table_report.problems
    assert any("k-anonymity, estimated on the rows read" in n for n in table_report.notes)


def test_every_table_problem_is_listed_with_file_row_and_column_never_a_value(tmp_path, bank):
    table = bank.astype(str)
    table.loc[[2, 6, 11], "AGE"] = "forty"
    table.loc[4, "EDUCATION"] = "9"
    table.loc[1, LABEL] = "2"
    table.loc[3, "customer_id"] = ""
    table["remarks"] = table["mobile"]  # personal information in an undeclared column
    table = table.drop(columns=["province"])
    path = tmp_path / "bad.csv"
    write_table(table, path)
    schema, _ = check_schema_file(default_task_path())
    assert schema is not None
    _, report = check_table_sample(schema, path)
    expected = [
        f"{path}, column 'province': required quasi_identifier column is missing",
        f"{path}, row 4 (line 5), column 'customer_id': customer key is missing",
        f"{path}, row 5 (line 6), column 'EDUCATION': unknown category",
        f"{path}, 3 rows (3, 7, 12; line = row + 1), column 'AGE': wrong type",
        f"{path}, row 2 (line 3), column '{LABEL}': label is not binary",
        f"{path}, column 'remarks': {len(table)} value(s) look like mobile, the first in row 1 "
        "(line 2)",
    ]
    for start in expected:
        assert sum(problem.startswith(start) for problem in report.problems) == 1, start
    assert len(report.problems) == len(expected)
    assert any("column 'remarks': not declared" in note for note in report.notes)
    assert_no_personal_value("\n".join(report.problems + report.notes), bank)
    # The node still stops at the missing column and reports the first problems per row.
    with pytest.raises(TableValidationError) as caught:
        validate_frame(read_table(path), schema, str(path), header=1)
    assert caught.value.total == 1 and "province" in str(caught.value)


def test_a_problem_in_many_rows_is_one_line_naming_the_first_rows(tmp_path, bank):
    table = bank.assign(PAY_0=99)
    found = check_frame(table, parse_schema(default_task_path().read_text())).problems
    (problem,) = found
    assert (problem.column, len(problem.rows)) == ("PAY_0", len(table))
    path = tmp_path / "pay.csv"
    write_table(table, path)
    schema, _ = check_schema_file(default_task_path())
    _, report = check_table_sample(schema, path, max_rows=50)
    (line,) = report.problems
    assert line.startswith(f"{path}, 50 rows (1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 40 more;")


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            '[[columns]]\nname = "ok"\nrole = "consent"\nrefused = ["N"]\n',
            "[[columns]] 'ok': the consent column needs 'granted': the values of the column "
            "meaning the customer consented to the task's purpose, as an array of integers or "
            'strings, e.g. granted = ["Y"]',
        ),
        (
            '[[columns]]\nname = "c"\nrole = "categorical"\nquasi_identifier = true\n'
            "categories = [1, 2, 3]\ngeneralize = { band = 2 }\n",
            "[[columns]] 'c': a categorical column cannot be generalized",
        ),
        (
            '[[columns]]\nname = "a"\nrole = "numeric"\nquasi_identifier = true\nmin = 18\n'
            'max = 80\ngeneralize = { date = "year" }\n',
            "[[columns]] 'a': 'generalize' of a numeric column must be { band = N }",
        ),
        (
            '[[columns]]\nname = "a"\nrole = "numeric"\nquasi_identifier = true\nmin = 18\n'
            "max = 80\ngeneralize = { band = 70 }\n",
            "[[columns]] 'a': 'generalize.band' (70) must be smaller than max - min (62)",
        ),
        (
            '[[columns]]\nname = "b"\nrole = "numeric"\nmin = 0\nmax = 10\nbins = [0, 5, 12]\n',
            "[[columns]] 'b': 'bins' edges 0, 12 lie outside (min, max] = (0, 10]",
        ),
        (
            '[[columns]]\nname = "z"\nrole = "numeric"\nmin = 0\nmax = 1\nrequired = false\n',
            "[[columns]] 'z': cannot be optional (required = false)",
        ),
        (
            '[[columns]]\nname = "pid"\nrole = "direct_identifier"\naction = "pseudonymize"\n'
            'required = false\n[deidentification]\nprivacy_unit = "pid"\n',
            "[deidentification]: privacy_unit 'pid' must be a required column",
        ),
    ],
)
def test_rules_that_surfaced_late_are_checked_at_parse_time(minimal_schema, addition, expected):
    with pytest.raises(SchemaError) as caught:
        parse_schema(minimal_schema + addition, source="task.toml")
    assert expected in str(caught.value)


def test_the_purpose_must_name_a_folder_for_the_key_ring(minimal_schema):
    with pytest.raises(SchemaError, match=r"'purpose' must be 1 to 64 letters.*key ring"):
        parse_schema(minimal_schema.replace('purpose = "p"', 'purpose = "../credit scoring"'))
    assert parse_schema(minimal_schema).purpose == "p"


def test_a_pseudonymizer_no_node_knows_is_a_problem(minimal_schema, tmp_path):
    path = tmp_path / "task.toml"
    path.write_text(minimal_schema + '[deidentification]\npseudonymizer = "hmac-md5"\n')
    schema, report = check_schema_file(path)
    assert schema is not None
    assert report.problems == (
        f"{path}: [deidentification]: 'pseudonymizer' must be one of: hmac-sha256, hmac-sm3 "
        "(not 'hmac-md5')",
    )


def test_a_schema_check_lists_every_problem_of_every_entry(minimal_schema, tmp_path):
    text = minimal_schema.replace('purpose = "p"', 'purpose = "a b"').replace(
        "max = 10", "max = -1"
    )
    text += '[[columns]]\nname = "ok"\nrole = "consent"\n'
    path = tmp_path / "task.toml"
    path.write_text(text)
    schema, report = check_schema_file(path)
    assert schema is None
    assert [problem.split(": ", 2)[1] for problem in report.problems] == [
        "[task]",
        "[[columns]] 'x'",
        "[[columns]] 'ok'",
    ]


def test_a_draft_is_refused_until_every_mark_is_resolved(tmp_path, bank_csv, bank):
    drafted = draft_schema(bank_csv)
    roles = {g.spec.name: (g.spec.role, g.spec.action) for g in drafted.guesses}
    assert roles["customer_id"] == (Role.CUSTOMER_KEY, "drop")
    assert roles["id_number"] == (Role.DIRECT_IDENTIFIER, "pseudonymize")
    for name in ("name", "mobile", "card_number"):
        assert roles[name] == (Role.DIRECT_IDENTIFIER, "drop"), name
    assert roles[LABEL][0] == Role.LABEL and roles["EDUCATION"][0] == Role.CATEGORICAL
    assert roles["LIMIT_BAL"][0] == Role.NUMERIC and roles["province"][0] == Role.QUASI_IDENTIFIER
    assert_no_personal_value(drafted.text, bank)

    path = tmp_path / "task.toml"
    path.write_text(drafted.text)
    schema, report = check_schema_file(path)
    marked = [n for n, line in enumerate(drafted.text.splitlines(), 1) if "TO AGREE" in line]
    assert schema is None  # numeric bounds and the purpose are placeholders
    assert all("still marked TO AGREE" in problem for problem in report.problems)
    assert len(report.problems) == len(marked) - 1  # the header's explanation is no mark

    path.write_text(resolved(drafted.text))
    schema, report = check_schema_file(path)
    assert schema is not None and report.ok, report.problems
    _, table_report = check_table_sample(schema, bank_csv)
    assert table_report.ok, table_report.problems


def test_the_bundled_data_set_validates_against_its_resolved_draft(tmp_path):
    data = bundled_dataset_path()
    drafted = draft_schema(data, max_rows=2000)
    assert [g.spec.name for g in drafted.guesses if g.spec.role == Role.CUSTOMER_KEY] == ["ID"]
    path = tmp_path / "task.toml"
    path.write_text(resolved(drafted.text))
    schema, report = check_schema_file(path)
    assert schema is not None and report.ok, report.problems
    read, table_report = check_table_sample(schema, data, max_rows=2000)
    assert read == 2000 and table_report.ok, table_report.problems


def resolved(draft: str) -> str:
    """A draft with every "TO AGREE" decision made: bounds, purpose, marks deleted."""
    filled = re.sub(r'^(min|max) = "TO AGREE".*$', _bound, draft, flags=re.M)
    filled = filled.replace('purpose = "TO AGREE"', 'purpose = "credit_risk_scoring"  #')
    return re.sub(r"  # TO AGREE:.*$", "", filled, flags=re.M)


def _bound(match: re.Match[str]) -> str:
    return f"{match[1]} = {0 if match[1] == 'min' else 2_000_000}"


def test_dp_bounds_are_round_numbers_near_the_quantiles():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {"amount": rng.lognormal(10, 1, 20_000), "age": rng.integers(21, 70, 20_000)}
    )
    bounds = dp_bounds(frame, ["amount", "age"], epsilon=4.0, unit=None, rng=rng)
    low, high = bounds["amount"]
    assert {low, high} <= set(CANDIDATES)
    assert 1_000 <= low <= 5_000 and 100_000 <= high <= 500_000
    assert bounds["age"][0] in (10, 20) and bounds["age"][1] in (50, 100)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        dp_bounds(frame, ["age"], epsilon=0.0, unit=None)


def test_the_command_line_exit_status_and_no_personal_value(tmp_path, bank_csv, bank):
    clean = subprocess.run(
        [str(FEDSCORE), "schema", "check", str(default_task_path()), str(bank_csv)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"all {len(bank):,} rows" in clean.stderr and "no problem found" in clean.stderr

    draft = tmp_path / "draft.toml"
    drafted = subprocess.run(
        [str(FEDSCORE), "schema", "draft", str(bank_csv), "--out", str(draft)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert drafted.returncode == 0, drafted.stderr
    assert "disclose that data to every other party" in drafted.stderr
    checked = subprocess.run(
        [str(FEDSCORE), "schema", "check", str(draft), str(bank_csv), "--rows", "100"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 1
    assert "still marked TO AGREE" in checked.stderr
    assert_no_personal_value(checked.stdout + checked.stderr + drafted.stderr, bank)


def test_the_command_line_default_sample_is_the_library_one():
    assert schema_cli.SAMPLE_ROWS == SAMPLE_ROWS


def test_a_draft_never_offers_a_name_or_a_rare_value_as_a_category(tmp_path, bank):
    """No detector recognizes a name: a draft must still not write names (under any column
    name) or a value few customers hold into a vocabulary every party will read."""
    rng = np.random.default_rng(5)
    names = bank["name"].drop_duplicates().head(30).tolist()
    rows = 400
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "x1": rng.choice(names, rows),  # names, repeated, under a neutral column name
            "contact_person": rng.choice(names, rows),
            "contact": rng.choice(["cellular", "telephone"], rows),
            "segment": ["retail"] * 200 + ["sme"] * 197 + ["private_banking"] * 3,
            "education": rng.choice(["高中", "大学", "研究生"], rows),
            "default": rng.integers(0, 2, rows),
        }
    )
    path = tmp_path / "table.csv"
    write_table(table, path)
    drafted = draft_schema(path)
    roles = {g.spec.name: g.spec.role for g in drafted.guesses}
    assert roles["x1"] == roles["contact_person"] == Role.DIRECT_IDENTIFIER
    assert roles["contact"] == roles["segment"] == roles["education"] == Role.CATEGORICAL
    assert not [name for name in names if name in drafted.text]
    assert "private_banking" not in drafted.text
    assert "1 held by fewer than 5 rows left out" in drafted.text
