"""The identified market: every customer of the demo market gets a synthetic identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from fedscore.datasets.market import CONSENT, CUSTOMER_KEY, MarketSplit
from fedscore.demo.identities.cards import card_numbers, redraw_card_number
from fedscore.demo.identities.consent import DEFAULT_AS_OF, consent_table
from fedscore.demo.identities.contacts import mobiles, redraw_mobile
from fedscore.demo.identities.draws import iso, stream_rng, uniform_dates
from fedscore.demo.identities.names import person_names
from fedscore.demo.identities.regions import REGIONS, draw_places
from fedscore.demo.identities.resident_ids import id_numbers, redraw_id_number
from fedscore.demo.identities.sharing import share_people, shared_customers

APPLICATION_START = date(2004, 1, 1)
APPLICATION_END = date(2005, 3, 31)
IDENTITY_COLUMNS = (
    "name",
    "id_number",
    "mobile",
    "card_number",
    "province",
    "city",
    "district",
    "application_date",
)

#: The columns that must be unique across distinct people, and how to redraw a value.
_REDRAW: dict[str, Callable[[str, np.random.Generator], str]] = {
    "id_number": redraw_id_number,
    "mobile": redraw_mobile,
    "card_number": redraw_card_number,
}


@dataclass(frozen=True)
class IdentifiedMarket:
    """The demo market with synthetic identities.

    Attributes:
        parties: each institution's table: ``customer_id``, the identity columns
            (`IDENTITY_COLUMNS`), then the UCI columns; the old consent flag is
            replaced by `consents`.
        consents: each institution's consent table (columns `CONSENT_COLUMNS`).
        consortium_test: the consortium test set, with identities too (it is a
            customer table like the others, held by the model owner); its
            people are distinct from the institutions' and it has no consent
            table (it is evaluated under the consortium agreement).
        shared_customers: every ID number on more than one institution row:
            ``id_number``, ``parties`` (sorted, comma-separated), ``n_parties``
            and ``n_rows``.
    """

    parties: dict[str, pd.DataFrame]
    consents: dict[str, pd.DataFrame]
    consortium_test: pd.DataFrame
    shared_customers: pd.DataFrame


def add_identities(
    split: MarketSplit, seed: int = 2005, as_of: date = DEFAULT_AS_OF
) -> IdentifiedMarket:
    """Give every customer of the market a synthetic identity and consent records.

    Args:
        split: the market from `fedscore.datasets.market.split_market`.
        seed: seeds Faker and the random draws; equal seeds give equal output.
        as_of: the run date consent validity refers to: about 93 % of each
            institution's customers hold a valid credit-scoring consent then
            (`CONSENT_SHARES`). It must be at least two years after the last
            application date.

    Returns:
        The identified market; the input tables are not modified.

    Raises:
        ValueError: `as_of` is too early.
        ConfigError: Faker (the `demo` extra) is not installed.
    """
    earliest = APPLICATION_END + timedelta(days=730)
    if as_of < earliest:
        raise ValueError(f"as_of {as_of} is too early: it must be on or after {earliest}")
    tables = dict(split.parties)
    tables["consortium_test"] = split.consortium_test
    identified = {
        name: identity_table(frame, stream_rng(seed, name), seed, name)
        for name, frame in tables.items()
    }
    make_unique(identified, stream_rng(seed, "unique"))
    parties = {name: identified[name] for name in split.parties}
    share_people(parties, stream_rng(seed, "sharing"))
    consents = {
        name: consent_table(frame, stream_rng(seed, f"consent:{name}"), as_of)
        for name, frame in parties.items()
    }
    return IdentifiedMarket(
        parties=parties,
        consents=consents,
        consortium_test=identified["consortium_test"],
        shared_customers=shared_customers(parties),
    )


def identity_table(
    frame: pd.DataFrame, rng: np.random.Generator, seed: int, name: str
) -> pd.DataFrame:
    """`frame` with a synthetic identity per row (consistent with its SEX and AGE).

    Args:
        frame: customer rows: ``customer_id`` and the UCI columns.
        rng: the random source of the numbers and places.
        seed: the seed of the names.
        name: the table's name (its own stream of names).

    Returns:
        ``customer_id``, the identity columns (`IDENTITY_COLUMNS`), then the UCI columns
        (without the old consent flag). Numbers may collide across people: see
        `make_unique`.
    """
    n = len(frame)
    male = frame["SEX"].to_numpy() == 1
    age = frame["AGE"].to_numpy(dtype=int)
    home, residence = draw_places(rng, n)
    applied = uniform_dates(
        rng, np.datetime64(APPLICATION_START, "D"), np.datetime64(APPLICATION_END, "D"), n
    )
    identity = pd.DataFrame(
        {
            "name": person_names(seed, name, male),
            "id_number": id_numbers(rng, home, age, male),
            "mobile": mobiles(rng, n),
            "card_number": card_numbers(rng, n),
            "province": [REGIONS[i].province for i in residence],
            "city": [REGIONS[i].city for i in residence],
            "district": [REGIONS[i].district for i in residence],
            "application_date": iso(applied),
        }
    )
    rest = frame.drop(columns=[CUSTOMER_KEY, CONSENT], errors="ignore").reset_index(drop=True)
    keys = frame[[CUSTOMER_KEY]].reset_index(drop=True)
    return pd.concat([keys, identity, rest], axis=1)


def make_unique(tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
    """Redraw the rare colliding ID, mobile and card numbers of distinct people."""
    for column, redraw in _REDRAW.items():
        seen: set[str] = set()
        for frame in tables.values():
            values = frame[column].to_numpy().copy()
            for row, value in enumerate(values):
                while value in seen:
                    value = redraw(value, rng)
                values[row] = value
                seen.add(value)
            frame[column] = values
