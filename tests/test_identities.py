"""Synthetic identities and consent records of the demo market."""

from __future__ import annotations

import re
import sys
from datetime import date

import pandas as pd
import pytest
from faker.providers.person.zh_CN import Provider

from fedscore.core.errors import ConfigError
from fedscore.datasets.market import CONSENT, CUSTOMER_KEY, split_market
from fedscore.demo.identities import (
    CONSENT_COLUMNS,
    CREDIT_SCORING,
    DEFAULT_AS_OF,
    IDENTITY_COLUMNS,
    REFERENCE_DATE,
    REGIONS,
    add_identities,
    valid_consent_ids,
)

BANKS = ("large_bank", "city_bank")
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
REGION_BY_CODE = {r.code: r for r in REGIONS}


@pytest.fixture(scope="module")
def split():
    """The demo split before identities are added."""
    return split_market()


@pytest.fixture(scope="module")
def identified(split):
    return add_identities(split)


def all_tables(identified) -> dict[str, pd.DataFrame]:
    return {**identified.parties, "consortium_test": identified.consortium_test}


def gb11643_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def test_deterministic(split, identified):
    again = add_identities(split)
    for name, frame in identified.parties.items():
        pd.testing.assert_frame_equal(frame, again.parties[name])
        pd.testing.assert_frame_equal(identified.consents[name], again.consents[name])
    pd.testing.assert_frame_equal(identified.consortium_test, again.consortium_test)
    pd.testing.assert_frame_equal(identified.shared_customers, again.shared_customers)


def test_another_seed_gives_other_people(split, identified):
    other = add_identities(split, seed=7)
    a, b = identified.parties["city_bank"], other.parties["city_bank"]
    assert (a["id_number"] != b["id_number"]).mean() > 0.99


def test_columns_and_rows(split, identified):
    for name, frame in all_tables(identified).items():
        source = split.consortium_test if name == "consortium_test" else split.parties[name]
        uci = [c for c in source.columns if c not in (CUSTOMER_KEY, CONSENT)]
        assert list(frame.columns) == [CUSTOMER_KEY, *IDENTITY_COLUMNS, *uci]
        assert frame[CUSTOMER_KEY].tolist() == source[CUSTOMER_KEY].tolist()
        pd.testing.assert_frame_equal(frame[uci], source[uci].reset_index(drop=True))
        assert frame[list(IDENTITY_COLUMNS)].notna().all().all()
    assert CONSENT in split.parties["large_bank"].columns  # the input is left alone


def test_resident_ids_are_valid_and_match_age_and_sex(identified):
    for frame in all_tables(identified).values():
        ids = frame["id_number"]
        assert ids.map(gb11643_valid).all()
        assert ids.str[:6].isin(REGION_BY_CODE).all()
        born = pd.to_datetime(ids.str[6:14], format="%Y%m%d")
        before_birthday = (born.dt.month > REFERENCE_DATE.month) | (
            (born.dt.month == REFERENCE_DATE.month) & (born.dt.day > REFERENCE_DATE.day)
        )
        age = REFERENCE_DATE.year - born.dt.year - before_birthday.astype(int)
        assert (age == frame["AGE"]).all()
        sequence = ids.str[14:17].astype(int)
        assert (sequence > 0).all()
        assert ((sequence % 2 == 1) == (frame["SEX"] == 1)).all()


def test_card_numbers_are_unionpay_and_luhn_valid(identified):
    for frame in all_tables(identified).values():
        cards = frame["card_number"]
        assert cards.str.fullmatch(r"62\d{14}|62\d{17}").all()
        assert cards.map(luhn_valid).all()
        assert cards.str.len().isin([16, 19]).all() and cards.str.len().nunique() == 2


def test_mobiles_names_and_application_dates(identified):
    for frame in all_tables(identified).values():
        assert frame["mobile"].str.fullmatch(r"1[3-9]\d{9}").all()
        assert frame["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
        assert frame["name"].nunique() > len(frame) / 5
        applied = frame["application_date"]
        assert applied.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
        assert applied.between("2004-01-01", "2005-12-31").all()


def test_first_names_match_sex(identified):
    male, female = tuple(Provider.first_names_male), tuple(Provider.first_names_female)
    for frame in all_tables(identified).values():
        names, men = frame["name"], frame["SEX"] == 1
        assert names[men].map(lambda n: n.endswith(male)).all()
        assert names[~men].map(lambda n: n.endswith(female)).all()


def test_most_people_live_in_their_id_region(identified):
    for frame in all_tables(identified).values():
        region = frame["id_number"].str[:6].map(REGION_BY_CODE)
        same = (
            (region.map(lambda r: r.province) == frame["province"])
            & (region.map(lambda r: r.city) == frame["city"])
            & (region.map(lambda r: r.district) == frame["district"])
        )
        # 80 % as drawn; copying people onto other rows moves it a little.
        assert same.mean() == pytest.approx(0.8, abs=0.01)
        known = {(r.province, r.city, r.district) for r in REGIONS}
        assert frame[["province", "city", "district"]].apply(tuple, axis=1).isin(known).all()


def test_distinct_people_have_distinct_numbers(identified):
    rows = pd.concat(all_tables(identified).values(), ignore_index=True)
    per_id = rows.groupby("id_number")[["name", "mobile", "SEX", "AGE"]].nunique()
    assert (per_id == 1).all().all()  # one ID number, one person
    assert rows["card_number"].is_unique
    assert rows.groupby("mobile")["id_number"].nunique().max() == 1
    test_ids = set(identified.consortium_test["id_number"])
    assert identified.consortium_test["id_number"].is_unique
    assert not test_ids & set(pd.concat(identified.parties.values())["id_number"])


def test_loan_facilitator_shares_customers_with_banks(identified):
    facilitator = identified.parties["loan_facilitator"]
    shared_fraction = 0.0
    for bank in BANKS:
        both = facilitator.merge(identified.parties[bank], on="id_number", suffixes=("", "_bank"))
        assert len(both) > 0, bank
        assert (both["name"] == both["name_bank"]).all()
        assert (both["mobile"] == both["mobile_bank"]).all()
        assert (both["SEX"] == both["SEX_bank"]).all() and (both["AGE"] == both["AGE_bank"]).all()
        assert (both["card_number"] != both["card_number_bank"]).all()
        shared_fraction += len(both) / len(facilitator)
    assert shared_fraction == pytest.approx(0.03, abs=0.005)
    shared = identified.shared_customers
    across = shared[shared["n_parties"] > 1]
    assert set(across["parties"]) <= {f"{b},loan_facilitator" for b in sorted(BANKS)}
    assert (across["n_rows"] == 2).all()


def test_some_large_bank_customers_hold_two_cards(identified):
    bank = identified.parties["large_bank"]
    repeated = bank[bank["id_number"].duplicated(keep=False)]
    assert 0.003 * len(bank) < repeated["id_number"].nunique() < 0.01 * len(bank)
    assert repeated.groupby("id_number").size().eq(2).all()
    assert repeated[CUSTOMER_KEY].is_unique
    assert (repeated.groupby("id_number")["card_number"].nunique() == 2).all()
    shared = identified.shared_customers
    within = shared[shared["n_parties"] == 1]
    assert set(within["id_number"]) == set(repeated["id_number"])
    assert set(within["parties"]) == {"large_bank"}


def consent_status(consents: pd.DataFrame, customers: pd.Series, as_of: date) -> pd.Series:
    day = as_of.isoformat()
    records = consents[consents["purpose"] == CREDIT_SCORING].fillna("")
    valid = valid_consent_ids(consents, as_of)
    withdrawn = set(records.loc[records["withdrawn_at"].between("0", day), "customer_id"])
    has_record = set(records["customer_id"])

    def status(customer: str) -> str:
        if customer in valid:
            return "valid"
        if customer in withdrawn:
            return "withdrawn"
        return "expired" if customer in has_record else "none"

    return customers.map(status)


def test_consent_shares_and_records(identified):
    for name, consents in identified.consents.items():
        party = identified.parties[name]
        assert list(consents.columns) == list(CONSENT_COLUMNS)
        assert consents["customer_id"].isin(party[CUSTOMER_KEY]).all()
        assert set(consents["purpose"]) == {CREDIT_SCORING, "marketing"}
        shares = consent_status(consents, party[CUSTOMER_KEY], DEFAULT_AS_OF).value_counts(
            normalize=True
        )
        assert shares["valid"] == pytest.approx(0.93, abs=0.01)
        for status in ("expired", "withdrawn"):
            assert shares[status] == pytest.approx(0.02, abs=0.005)
        assert shares["none"] == pytest.approx(0.03, abs=0.005)

        dates = consents[["granted_at", "expires_at", "withdrawn_at"]]
        filled = dates.stack().dropna()
        assert filled.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
        assert consents["granted_at"].notna().all()
        assert consents["withdrawn_at"].isna().mean() > 0.9
        assert 0.2 < consents["expires_at"].isna().mean() < 0.8
        applied = consents["customer_id"].map(party.set_index(CUSTOMER_KEY)["application_date"])
        assert (consents["granted_at"] > applied).all()
        assert (consents["granted_at"] <= DEFAULT_AS_OF.isoformat()).all()
        for column in ("expires_at", "withdrawn_at"):
            set_ = consents[column].notna()
            assert (consents.loc[set_, column] > consents.loc[set_, "granted_at"]).all()


def test_consent_validity_follows_the_run_date(identified):
    consents = identified.consents["city_bank"]
    now = valid_consent_ids(consents, DEFAULT_AS_OF)
    later = valid_consent_ids(consents, date(2040, 1, 1))
    assert later < now  # open-ended consents stay, dated ones run out
    assert valid_consent_ids(consents, date(2000, 1, 1)) == set()
    # As read back from CSV: empty strings instead of None.
    assert valid_consent_ids(consents.fillna(""), DEFAULT_AS_OF) == now


def test_rejects_a_run_date_before_the_consents(split):
    with pytest.raises(ValueError, match="too early"):
        add_identities(split, as_of=date(2006, 1, 1))


def test_without_faker_the_demo_says_how_to_install_it(split, monkeypatch):
    monkeypatch.setitem(sys.modules, "faker", None)  # `import faker` fails as if missing
    with pytest.raises(ConfigError, match=re.escape("pip install 'fedscore[demo]'")):
        add_identities(split)
