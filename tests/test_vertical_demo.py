"""The vertical demo's data: a bank and a loan facilitator with shared customers."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from fedscore.core.errors import ConfigError
from fedscore.core.tabular import read_table
from fedscore.datasets.market import load_bundled
from fedscore.demo.identities import REFERENCE_DATE
from fedscore.demo.vertical import (
    BANK_IDENTITY_COLUMNS,
    BANK_KEY,
    FACILITATOR_IDENTITY_COLUMNS,
    FACILITATOR_KEY,
    VerticalDemo,
    prepare_vertical_demo,
)
from fedscore.privacy.consent import ConsentTable
from fedscore.privacy.pii.resident_id import birth_date, is_male, is_valid_resident_id
from fedscore.vertical.columns import BANK_COLUMNS, FACILITATOR_COLUMNS, JOINT_PURPOSE, LABEL

SMALL = 1500
FILES = (
    "bank/data/customers.csv",
    "bank/data/consent.csv",
    "loan_facilitator/data/users.csv",
    "loan_facilitator/data/consent.csv",
)


@dataclasses.dataclass(frozen=True)
class Prepared:
    demo: VerticalDemo
    bank: pd.DataFrame
    facilitator: pd.DataFrame


def load(demo: VerticalDemo) -> Prepared:
    return Prepared(demo, read_table(demo.bank_table), read_table(demo.facilitator_table))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Prepared:
    return load(prepare_vertical_demo(tmp_path_factory.mktemp("small"), seed=3, size=SMALL))


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Prepared:
    return load(prepare_vertical_demo(tmp_path_factory.mktemp("full")))


def normalized_id(text: str) -> str:
    return "".join(text.split()).upper()


def shared_people(prepared: Prepared) -> pd.DataFrame:
    """The people at both parties, joined by their normalized resident ID."""
    bank = prepared.bank.assign(person=prepared.bank["id_number"].map(normalized_id))
    facilitator = prepared.facilitator.assign(
        person=prepared.facilitator["id_card"].map(normalized_id)
    )
    return bank.merge(facilitator, on="person", suffixes=("_bank", "_facilitator"))


# --- determinism ---------------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_files(small, tmp_path):
    again = prepare_vertical_demo(tmp_path / "again", seed=3, size=SMALL)
    for name in FILES:
        assert (small.demo.root / name).read_bytes() == (again.root / name).read_bytes(), name
    assert dataclasses.replace(again, root=small.demo.root, **paths_of(small.demo)) == small.demo


def paths_of(demo: VerticalDemo) -> dict[str, Path]:
    return {
        "bank_table": demo.bank_table,
        "bank_consent": demo.bank_consent,
        "facilitator_table": demo.facilitator_table,
        "facilitator_consent": demo.facilitator_consent,
    }


def test_another_seed_gives_other_files(small, tmp_path):
    other = prepare_vertical_demo(tmp_path / "other", seed=4, size=SMALL)
    for name in FILES:
        assert (small.demo.root / name).read_bytes() != (other.root / name).read_bytes(), name


def test_the_layout(small):
    root = small.demo.root
    assert [small.demo.root / name for name in FILES] == list(paths_of(small.demo).values())
    assert all((root / name).is_file() for name in FILES)


# --- counts --------------------------------------------------------------------------


def test_the_full_demo_counts(full):
    demo = full.demo
    assert demo.shared == 20_000
    assert demo.bank_only > 1000 and demo.facilitator_only > 1000
    assert demo.shared + demo.bank_only + demo.facilitator_only == len(load_bundled())
    assert len(full.bank) == demo.bank_rows == demo.shared + demo.bank_only
    assert len(full.facilitator) == demo.facilitator_rows == demo.shared + demo.facilitator_only
    assert len(shared_people(full)) == demo.shared
    # About 93 % valid at each side, independently: about 86.5 % at both.
    assert 0.84 * demo.shared < demo.consented_at_both < 0.89 * demo.shared


def test_the_small_demo_counts(small):
    demo = small.demo
    assert (demo.shared, demo.bank_only, demo.facilitator_only) == (1000, 200, 300)
    assert len(shared_people(small)) == demo.shared
    assert demo.as_of == date(2026, 11, 25)


def test_the_result_holds_counts_and_paths_only(small):
    for field in dataclasses.fields(small.demo):
        assert isinstance(getattr(small.demo, field.name), Path | int | date), field.name


@pytest.mark.parametrize("size", [0, 14, 30_001])
def test_sizes_out_of_range_are_refused(tmp_path, size):
    with pytest.raises(ConfigError, match="size"):
        prepare_vertical_demo(tmp_path, size=size)
    assert list(tmp_path.iterdir()) == []


def test_an_early_run_date_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="as_of"):
        prepare_vertical_demo(tmp_path, size=SMALL, as_of=date(2006, 1, 1))


# --- the column split ----------------------------------------------------------------


def test_columns_are_split_as_vertical_columns_says(small):
    assert list(small.bank.columns) == [BANK_KEY, *BANK_IDENTITY_COLUMNS, LABEL, *BANK_COLUMNS]
    assert list(small.facilitator.columns) == [
        FACILITATOR_KEY,
        *FACILITATOR_IDENTITY_COLUMNS,
        *FACILITATOR_COLUMNS,
    ]
    assert LABEL not in small.facilitator.columns
    assert not set(BANK_COLUMNS) & set(small.facilitator.columns)
    assert not set(FACILITATOR_COLUMNS) & set(small.bank.columns)
    uci = set(load_bundled().columns) - {"ID"}
    assert {LABEL, *BANK_COLUMNS, *FACILITATOR_COLUMNS} == uci


def test_a_shared_person_is_one_row_of_the_data_set(full):
    joined = shared_people(full)
    columns = [LABEL, *BANK_COLUMNS, *FACILITATOR_COLUMNS]
    uci = load_bundled()[columns].astype(float)
    rows = joined[columns].astype(float)
    found = rows.merge(uci.drop_duplicates(), on=columns, how="left", indicator=True)
    assert (found["_merge"] == "both").all()


def test_labels_are_binary_at_the_bank(small):
    assert set(small.bank[LABEL]) == {"0", "1"}


# --- identifiers ---------------------------------------------------------------------


def test_each_party_writes_its_own_key_format(small):
    bank_keys, user_keys = small.bank[BANK_KEY], small.facilitator[FACILITATOR_KEY]
    assert bank_keys.str.fullmatch(r"B\d{9}").all() and bank_keys.is_unique
    assert user_keys.str.fullmatch(r"u[0-9a-f]{12}").all() and user_keys.is_unique
    assert bank_keys.is_monotonic_increasing and user_keys.is_monotonic_increasing


def test_the_bank_writes_ids_and_mobiles_its_way(small):
    ids = small.bank["id_number"]
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    assert ids.map(lambda v: is_valid_resident_id(v, REFERENCE_DATE)).all()
    assert small.bank["mobile"].str.fullmatch(r"1\d{10}").all()
    assert ids.is_unique and small.bank["mobile"].is_unique


def test_the_facilitator_writes_ids_and_mobiles_its_way(small):
    ids = small.facilitator["id_card"]
    assert ids.str.fullmatch(r"\d{6} \d{8} \d{3}[\dx]").all()
    assert ids.str.endswith("x").any()  # lower-case check characters occur
    assert ids.map(normalized_id).map(lambda v: is_valid_resident_id(v, REFERENCE_DATE)).all()
    assert small.facilitator["phone"].str.fullmatch(r"\+86 1\d{10}").all()
    assert ids.is_unique and small.facilitator["phone"].is_unique


def test_a_shared_person_has_the_same_identity_at_both(small):
    joined = shared_people(small)
    assert (joined["name_bank"] == joined["name_facilitator"]).all()
    assert (joined["phone"].str.removeprefix("+86 ") == joined["mobile"]).all()
    assert (joined["id_card"] != joined["id_number"]).all()  # the raw spellings differ


def test_ids_are_consistent_with_sex_and_age(small):
    for _, row in small.bank.iterrows():
        number = row["id_number"]
        assert is_male(number, REFERENCE_DATE) == (row["SEX"] == "1")
        born = birth_date(number, REFERENCE_DATE)
        age = (
            REFERENCE_DATE.year
            - born.year
            - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day))
        )
        assert age == int(row["AGE"])


def test_people_at_one_party_only_are_not_at_the_other(small):
    bank = set(small.bank["id_number"].map(normalized_id))
    facilitator = set(small.facilitator["id_card"].map(normalized_id))
    assert len(bank - facilitator) == small.demo.bank_only
    assert len(facilitator - bank) == small.demo.facilitator_only


# --- consent -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, consent, key",
    [
        ("bank_table", "bank_consent", BANK_KEY),
        ("facilitator_table", "facilitator_consent", FACILITATOR_KEY),
    ],
)
def test_each_party_has_consent_records_with_some_refusals(full, table, consent, key):
    demo = full.demo
    keys = read_table(getattr(demo, table))[key].to_numpy()
    records = ConsentTable.load(getattr(demo, consent), key)  # validates the table
    assert set(records.frame[key]) <= set(keys)
    assert JOINT_PURPOSE in set(records.frame["purpose"])
    counts = records.decide(keys, JOINT_PURPOSE, demo.as_of).counts
    assert 0.92 < counts.valid / len(keys) < 0.94
    assert counts.expired > 0 and counts.withdrawn > 0 and counts.no_record > 0


def test_consent_is_independent_at_each_side(full):
    demo = full.demo
    joined = shared_people(full)
    bank = ConsentTable.load(demo.bank_consent, BANK_KEY)
    facilitator = ConsentTable.load(demo.facilitator_consent, FACILITATOR_KEY)
    at_bank = bank.decide(joined[BANK_KEY].to_numpy(), JOINT_PURPOSE, demo.as_of).allowed
    at_facilitator = facilitator.decide(
        joined[FACILITATOR_KEY].to_numpy(), JOINT_PURPOSE, demo.as_of
    ).allowed
    assert int((at_bank & at_facilitator).sum()) == demo.consented_at_both
    refused_at_both = int((~at_bank & ~at_facilitator).sum())
    # Independent: about 7 % x 7 % of the shared refuse at both, far fewer than at either.
    assert refused_at_both < 0.2 * int((~at_bank).sum())


def test_consent_keys_are_each_partys_own(small):
    bank = read_table(small.demo.bank_consent)
    facilitator = read_table(small.demo.facilitator_consent)
    assert list(bank.columns) == [BANK_KEY, "purpose", "granted_at", "expires_at", "withdrawn_at"]
    assert list(facilitator.columns) == [FACILITATOR_KEY, *list(bank.columns)[1:]]
    assert bank[BANK_KEY].str.fullmatch(r"B\d{9}").all()
    assert facilitator[FACILITATOR_KEY].str.fullmatch(r"u[0-9a-f]{12}").all()
    for path in (small.demo.bank_consent, small.demo.facilitator_consent):
        assert not re.search(r"credit_risk_scoring", path.read_text(encoding="utf-8"))
