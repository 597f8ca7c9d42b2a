"""The people structure of a real market: shared and repeat customers.

A customer can be the same person at two institutions (`SHARED_CUSTOMERS`), and a few
people hold two cards, i.e. two rows, at one institution (`REPEAT_CUSTOMERS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHARED_CUSTOMERS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("loan_facilitator", ("large_bank", "city_bank"), 0.03),
)
"""(party, source parties, share): that share of the party's rows are people
who are also customers of one of the source parties."""
REPEAT_CUSTOMERS: tuple[tuple[str, float], ...] = (("large_bank", 0.005),)
"""(party, share): that share of the party's rows are a second card of a person
who already has another row there."""
PERSON_COLUMNS = ("name", "id_number", "mobile", "province", "city", "district")
"""The columns that describe the person (copied when a person has several rows)."""


def share_people(parties: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
    """Copy people onto other rows: repeat customers first, then shared customers.

    A row is either a source of one copy or a target, never both, so a person
    has at most two rows. The source has the same SEX and AGE as the target.

    Args:
        parties: each institution's identified table (changed in place).
        rng: the random source.
    """
    used: set[tuple[str, int]] = set()
    plans: list[tuple[str, tuple[str, ...], float]] = [
        (party, (party,), share) for party, share in REPEAT_CUSTOMERS
    ]
    plans += list(SHARED_CUSTOMERS)
    for target, sources, share in plans:
        if target not in parties or not all(s in parties for s in sources):
            continue
        candidates_all = [
            (source, row, key)
            for source in sources
            for row, key in enumerate(_sex_age(parties[source]))
        ]
        pool: dict[tuple[int, int], list[tuple[str, int]]] = {}
        for index in rng.permutation(len(candidates_all)):
            source, row, key = candidates_all[index]
            pool.setdefault(key, []).append((source, row))
        frame = parties[target]
        keys = _sex_age(frame)
        wanted = round(share * len(frame))
        copies: list[tuple[int, str, int]] = []
        for row in map(int, rng.permutation(len(frame))):
            if len(copies) == wanted:
                break
            if (target, row) in used:
                continue
            candidates = pool.get(keys[row], [])
            while candidates and (candidates[-1] in used or candidates[-1] == (target, row)):
                candidates.pop()
            if not candidates:
                continue
            source, source_row = candidates.pop()
            used.update({(source, source_row), (target, row)})
            copies.append((row, source, source_row))
        columns = list(PERSON_COLUMNS)
        for source in sources:
            pairs = [(row, src_row) for row, origin, src_row in copies if origin == source]
            if pairs:
                rows, source_rows = (list(side) for side in zip(*pairs, strict=True))
                frame.loc[rows, columns] = parties[source].loc[source_rows, columns].to_numpy()


def shared_customers(parties: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every ID number on more than one institution row.

    Args:
        parties: each institution's identified table.

    Returns:
        One row per such ID: ``id_number``, ``parties`` (sorted, comma-separated),
        ``n_parties`` and ``n_rows``.
    """
    rows = pd.concat(
        [frame[["id_number"]].assign(party=name) for name, frame in parties.items()],
        ignore_index=True,
    )
    rows = rows[rows["id_number"].duplicated(keep=False)]
    grouped = rows.groupby("id_number", sort=True)["party"]
    summary = pd.DataFrame(
        {
            "parties": grouped.agg(lambda p: ",".join(sorted(set(p)))),
            "n_parties": grouped.nunique(),
            "n_rows": grouped.size(),
        }
    )
    return summary.reset_index()


def _sex_age(frame: pd.DataFrame) -> list[tuple[int, int]]:
    return list(
        zip(frame["SEX"].astype(int).tolist(), frame["AGE"].astype(int).tolist(), strict=True)
    )
