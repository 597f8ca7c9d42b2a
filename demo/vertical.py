"""The vertical demo: a bank and a loan facilitator (助贷机构) that serve the same customers.

Each person is one row of the bundled UCI data set. Its columns are split as
`fedscore.vertical.columns` says: the bank holds the label and `BANK_COLUMNS`, the
facilitator `FACILITATOR_COLUMNS`. The people are split three ways (deterministic for a
seed): about two thirds are customers of both (`SHARED_SHARE`; 20,000 of the 30,000
rows), the others customers of the bank only (`BANK_ONLY_SHARE`) or of the facilitator
only (the rest). A facilitator-only customer's platform columns are those of a UCI row
the bank does not hold, so they are as plausible as a shared customer's.

Each party writes its identifiers its own way, as two institutions' systems do:

- the bank: key ``B`` + 9 digits (`BANK_KEY`), ``name``, ``id_number`` (18 characters,
  check character upper-case ``X``), ``mobile`` (11 digits);
- the facilitator: key ``u`` + 12 hex digits (`FACILITATOR_KEY`), ``name``,
  ``id_card`` (grouped 6-8-4 with spaces, lower-case ``x``: ``110105 19491231 002x``),
  ``phone`` (``+86 `` and the 11 digits).

A shared person has the same resident ID number at both: removing the spaces and
upper-casing the facilitator's gives the bank's, which is how the private set
intersection must normalize it before matching. Every ID is valid (GB 11643-1999) and
consistent with the person's ``SEX`` and ``AGE``, even at the facilitator, which does not
hold those columns.

Each party has its own consent records for `JOINT_PURPOSE`, drawn independently as in
`fedscore.demo.identities.consent` (about 93 % valid, 2 % expired, 2 % withdrawn, 3 %
without a record, some marketing records besides), so about 86 % of the shared
customers consented at both.

Layout written under the root (a stable contract):

    bank/data/customers.csv               the bank's table
    bank/data/consent.csv                 its consent records (key column `BANK_KEY`)
    loan_facilitator/data/users.csv       the facilitator's table
    loan_facilitator/data/consent.csv     its consent records (key `FACILITATOR_KEY`)

There is no test file: the vertical evaluation holds out a deterministic share of the
intersection, chosen by join key, so neither party holds a separate test table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from fedscore.core.errors import ConfigError
from fedscore.core.tabular import write_table
from fedscore.datasets.market import CUSTOMER_KEY, load_bundled
from fedscore.demo.identities.consent import (
    CREDIT_SCORING,
    DEFAULT_AS_OF,
    consent_table,
    valid_consent_ids,
)
from fedscore.demo.identities.contacts import mobiles, redraw_mobile
from fedscore.demo.identities.draws import stream_rng
from fedscore.demo.identities.names import person_names
from fedscore.demo.identities.population import APPLICATION_END
from fedscore.demo.identities.regions import REGIONS
from fedscore.demo.identities.resident_ids import id_numbers, redraw_id_number
from fedscore.vertical.columns import BANK_COLUMNS, FACILITATOR_COLUMNS, JOINT_PURPOSE, LABEL

DEFAULT_SEED = 2025
BANK = "bank"
FACILITATOR = "loan_facilitator"
BANK_KEY = "customer_id"
FACILITATOR_KEY = "user_id"
#: The bank's identifier columns, in its formats (see the module docstring).
BANK_IDENTITY_COLUMNS = ("name", "id_number", "mobile")
#: The facilitator's identifier columns, in its formats.
FACILITATOR_IDENTITY_COLUMNS = ("name", "id_card", "phone")
#: Share of the people who are customers of both parties.
SHARED_SHARE = 2 / 3
#: Share of the people who are customers of the bank only (the rest: facilitator only).
BANK_ONLY_SHARE = 2 / 15
#: The fewest people `prepare_vertical_demo` accepts (each group needs someone).
MIN_SIZE = 15


@dataclass(frozen=True)
class VerticalDemo:
    """A prepared vertical demo: where its files are and how many people it holds.

    Attributes:
        root: the folder everything is under.
        bank_table: the bank's customer table.
        bank_consent: the bank's consent records.
        facilitator_table: the facilitator's user table.
        facilitator_consent: the facilitator's consent records.
        shared: customers of both parties.
        bank_only: customers of the bank only.
        facilitator_only: customers of the facilitator only.
        consented_at_both: shared customers with a valid `JOINT_PURPOSE` consent at both
            parties on `as_of`.
        as_of: the day consent validity was judged at.
    """

    root: Path
    bank_table: Path
    bank_consent: Path
    facilitator_table: Path
    facilitator_consent: Path
    shared: int
    bank_only: int
    facilitator_only: int
    consented_at_both: int
    as_of: date

    @property
    def bank_rows(self) -> int:
        """Rows of the bank's table."""
        return self.shared + self.bank_only

    @property
    def facilitator_rows(self) -> int:
        """Rows of the facilitator's table."""
        return self.shared + self.facilitator_only


def prepare_vertical_demo(
    root: Path, seed: int = DEFAULT_SEED, size: int | None = None, as_of: date = DEFAULT_AS_OF
) -> VerticalDemo:
    """Write both parties' tables and consent records (byte-identical for equal arguments).

    Args:
        root: the output folder (see the module's layout); created if missing, files in
            it are replaced.
        seed: seeds every draw (who is shared, identities, keys, consent).
        size: how many of the bundled data set's rows (people) to use, at least
            `MIN_SIZE`; None: all 30,000 (20,000 shared). Smaller sizes are for tests.
        as_of: the run date consent validity refers to (for `consented_at_both`).

    Returns:
        The paths and counts of the prepared demo.

    Raises:
        ConfigError: `size` or `as_of` is out of range, or Faker (the `demo` extra) is
            not installed.
    """
    data = load_bundled().drop(columns=["ID"])
    n = len(data) if size is None else size
    if not MIN_SIZE <= n <= len(data):
        raise ConfigError(f"size must be between {MIN_SIZE} and {len(data)}")
    earliest = APPLICATION_END + timedelta(days=730)
    if as_of < earliest:
        raise ConfigError(f"as_of must be on or after {earliest}: consents follow the accounts")
    order = stream_rng(seed, "vertical:people").permutation(len(data))[:n]
    people = pd.concat(
        [data.iloc[order].reset_index(drop=True), _identities(data.iloc[order], seed)], axis=1
    )
    n_shared = round(n * SHARED_SHARE)
    n_bank_only = round(n * BANK_ONLY_SHARE)
    at_bank = people.iloc[: n_shared + n_bank_only].reset_index(drop=True)
    at_facilitator = pd.concat(
        [people.iloc[:n_shared], people.iloc[n_shared + n_bank_only :]], ignore_index=True
    )
    bank_keys = _keys(stream_rng(seed, "vertical:keys:bank"), len(at_bank), 10**9, "B{:09d}")
    user_keys = _keys(
        stream_rng(seed, "vertical:keys:facilitator"), len(at_facilitator), 16**12, "u{:012x}"
    )
    bank = _bank_table(at_bank, bank_keys)
    facilitator = _facilitator_table(at_facilitator, user_keys)
    bank_consent = _consent(bank_keys, stream_rng(seed, "vertical:consent:bank"), as_of)
    user_consent = _consent(user_keys, stream_rng(seed, "vertical:consent:facilitator"), as_of)
    valid_bank = valid_consent_ids(bank_consent, as_of, JOINT_PURPOSE)
    valid_user = valid_consent_ids(user_consent, as_of, JOINT_PURPOSE)
    both = sum(
        b in valid_bank and u in valid_user
        for b, u in zip(bank_keys[:n_shared], user_keys[:n_shared], strict=True)
    )
    root = Path(root).resolve()
    paths = {
        "bank_table": root / BANK / "data" / "customers.csv",
        "bank_consent": root / BANK / "data" / "consent.csv",
        "facilitator_table": root / FACILITATOR / "data" / "users.csv",
        "facilitator_consent": root / FACILITATOR / "data" / "consent.csv",
    }
    frames = {
        "bank_table": bank,
        "bank_consent": bank_consent,
        "facilitator_table": facilitator,
        "facilitator_consent": user_consent.rename(columns={CUSTOMER_KEY: FACILITATOR_KEY}),
    }
    for name, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(frames[name], path)
    return VerticalDemo(
        root=root,
        **paths,
        shared=n_shared,
        bank_only=n_bank_only,
        facilitator_only=n - n_shared - n_bank_only,
        consented_at_both=int(both),
        as_of=as_of,
    )


def bank_resident_id(number: str) -> str:
    """A resident ID as the bank writes it: 18 characters, upper-case ``X``.

    Args:
        number: an 18-character resident ID.

    Returns:
        The bank's spelling.
    """
    return number.upper()


def facilitator_resident_id(number: str) -> str:
    """A resident ID as the facilitator writes it: grouped 6-8-4, lower-case ``x``.

    Args:
        number: an 18-character resident ID.

    Returns:
        The facilitator's spelling, e.g. ``110105 19491231 002x``.
    """
    lower = number.lower()
    return f"{lower[:6]} {lower[6:14]} {lower[14:]}"


def facilitator_phone(mobile: str) -> str:
    """A mobile number as the facilitator writes it: ``+86 `` and the 11 digits.

    Args:
        mobile: an 11-digit mainland mobile number.

    Returns:
        The facilitator's spelling.
    """
    return f"+86 {mobile}"


def _identities(people: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A synthetic name, resident ID and mobile per person, consistent with SEX and AGE."""
    rng = stream_rng(seed, "vertical:identities")
    male = people["SEX"].to_numpy() == 1
    home = rng.integers(0, len(REGIONS), size=len(people))
    numbers = id_numbers(rng, home, people["AGE"].to_numpy(dtype=int), male)
    return pd.DataFrame(
        {
            "name": person_names(seed, "vertical", male),
            "resident_id": _distinct(numbers, redraw_id_number, rng),
            "mobile_number": _distinct(mobiles(rng, len(people)), redraw_mobile, rng),
        }
    )


def _distinct(
    values: np.ndarray, redraw: Callable[[str, np.random.Generator], str], rng: np.random.Generator
) -> np.ndarray:
    """`values` with the rare repeats redrawn, so distinct people hold distinct numbers."""
    seen: set[str] = set()
    result = values.copy()
    for row, value in enumerate(result):
        while value in seen:
            value = redraw(value, rng)
        result[row] = value
        seen.add(value)
    return result


def _keys(rng: np.random.Generator, n: int, space: int, pattern: str) -> list[str]:
    """`n` distinct keys: numbers below `space` drawn without replacement, formatted."""
    return [pattern.format(int(number)) for number in rng.choice(space, n, replace=False)]


def _bank_table(people: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The bank's table, sorted by its key: identifiers, label, `BANK_COLUMNS`."""
    identity = pd.DataFrame(
        {
            BANK_KEY: keys,
            "name": people["name"],
            "id_number": [bank_resident_id(v) for v in people["resident_id"]],
            "mobile": people["mobile_number"],
        }
    )
    table = pd.concat([identity, people[[LABEL, *BANK_COLUMNS]]], axis=1)
    return table.sort_values(BANK_KEY, ignore_index=True)


def _facilitator_table(people: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The facilitator's table, sorted by its key: identifiers, `FACILITATOR_COLUMNS`."""
    identity = pd.DataFrame(
        {
            FACILITATOR_KEY: keys,
            "name": people["name"],
            "id_card": [facilitator_resident_id(v) for v in people["resident_id"]],
            "phone": [facilitator_phone(v) for v in people["mobile_number"]],
        }
    )
    table = pd.concat([identity, people[list(FACILITATOR_COLUMNS)]], axis=1)
    return table.sort_values(FACILITATOR_KEY, ignore_index=True)


def _consent(keys: list[str], rng: np.random.Generator, as_of: date) -> pd.DataFrame:
    """One party's consent records for `JOINT_PURPOSE` (key column `CUSTOMER_KEY`)."""
    customers = pd.DataFrame({CUSTOMER_KEY: keys, "application_date": APPLICATION_END.isoformat()})
    records = consent_table(customers, rng, as_of)
    records["purpose"] = records["purpose"].replace(CREDIT_SCORING, JOINT_PURPOSE)
    return records
