"""Institutions of any size for `benchmarks/scale.py`, grown from the demo's.

Each demo institution's customer rows (its credit columns and label) are resampled with
replacement to N rows; every row then gets a fresh, valid synthetic identity (name,
resident ID consistent with its SEX and AGE, mobile, UnionPay card, residence,
application date: `fedscore.demo.identities.identity_table`), unique across the
institution, a fresh customer key, and consent records drawn like the demo's (about
93 % hold a valid credit-scoring consent). The institution keeps the demo's node config,
task and pseudonymization keys; its state folder starts empty.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from fedscore.core.tabular import write_table
from fedscore.datasets.market import CUSTOMER_KEY
from fedscore.demo.identities import IDENTITY_COLUMNS
from fedscore.demo.identities.consent import consent_table
from fedscore.demo.identities.population import identity_table, make_unique

#: The customer-key prefix of each demo institution (as the demo's keys start).
KEY_PREFIX = {"large_bank": "LB", "city_bank": "CB", "loan_facilitator": "LF"}
KEY_DIGITS = 9


def scaled_rows(demo_table: pd.DataFrame, rows: int, party: str, seed: int) -> pd.DataFrame:
    """`rows` customers resampled from `demo_table`, each with a fresh identity.

    Args:
        demo_table: the demo institution's customer table.
        rows: how many customers the scaled table has.
        party: the institution (its key prefix and its own random streams).
        seed: seeds the resampling, the identities and the keys.
    """
    rng = np.random.default_rng([seed, rows, sum(party.encode())])
    credit = demo_table.drop(columns=[CUSTOMER_KEY, *IDENTITY_COLUMNS])
    picked = credit.iloc[rng.integers(0, len(credit), rows)].reset_index(drop=True)
    keys = rng.choice(10**KEY_DIGITS, size=rows, replace=False)
    prefix = KEY_PREFIX.get(party, party[:2].upper())
    picked.insert(0, CUSTOMER_KEY, [f"{prefix}{key:0{KEY_DIGITS}d}" for key in keys])
    table = identity_table(picked, rng, seed, f"{party}:{rows}")
    make_unique({party: table}, rng)
    return table


def scaled_institution(demo_home: Path, home: Path, rows: int, seed: int) -> Path:
    """An institution of `rows` customers at `home`, grown from the demo's at `demo_home`.

    Returns:
        Its node config. An institution already written at `home` is reused.
    """
    config = home / "node.toml"
    if config.exists():
        return config
    document = tomllib.loads((demo_home / "node.toml").read_text(encoding="utf-8"))
    party = document["node"]["party"]
    demo_table = pd.read_csv(demo_home / document["node"]["data"], dtype={CUSTOMER_KEY: str})
    table = scaled_rows(demo_table, rows, party, seed)
    consent = consent_table(table, np.random.default_rng([seed, rows, 7]))
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    write_table(table, staging / "data" / "customers.csv")
    write_table(consent, staging / "data" / "consent.csv")
    shutil.copytree(demo_home / "keys", staging / "keys")
    document["node"]["data"] = "data/customers.csv"
    document["node"]["state_dir"] = "state"
    document["deidentification"]["consent_table"] = "data/consent.csv"
    (staging / "node.toml").write_text(tomli_w.dumps(document), encoding="utf-8")
    staging.rename(home)
    return config
