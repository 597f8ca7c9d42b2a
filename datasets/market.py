"""The demo consortium: three institutions' tables derived from the bundled data set.

The split is deterministic (fixed seeds) and non-IID the way a real market is:

1. A stratified 20 % of all customers becomes the *consortium test set*, held by
   the model owner and never trained on.
2. Every other customer is assigned to one institution by a draw whose odds
   depend on the customer's credit limit, age and latest repayment status:
   - `large_bank`: favours high credit limits and older customers;
   - `city_bank`: the middle of the market (constant odds);
   - `loan_facilitator` (助贷): favours small limits, younger customers and
     customers already behind on repayment, hence a higher default rate.
3. Each institution gets what it would really hold: its own customer-key
   format, a consent flag for the credit-scoring purpose (about 3 % refused),
   and the data set's columns; the data set's row ID is dropped. One column is
   added, `behind_last_month` (PAY_0 >= 1), the label of the second bundled task
   (early delinquency); the default-risk task ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from fedscore.datasets import default_task_path as default_task_path  # re-exported

SPLIT_SEED = 2005
TEST_FRACTION = 0.2
CONSENT_REFUSAL_RATE = 0.03
LABEL = "default.payment.next.month"
CONSENT = "consent_credit_scoring"
CUSTOMER_KEY = "customer_id"
#: The early-delinquency task's label (datasets/tasks/early_delinquency.toml): 1 when
#: the most recent month's repayment status is at least one month late (PAY_0 >= 1).
BEHIND_LAST_MONTH = "behind_last_month"


@dataclass(frozen=True)
class Institution:
    """A member of the demo consortium.

    Attributes:
        name: identifier used in paths and reports.
        display_name: how reports name it.
        kind: "bank" or "loan_facilitator".
        key_prefix: the institution's own customer-key format.
        intercept, limit_weight, age_weight, delinquency_weight: odds of the draw that
            assigns customers to it (on standardized log-limit and age, and PAY_0 >= 1).
    """

    name: str
    display_name: str
    kind: str
    key_prefix: str
    intercept: float
    limit_weight: float
    age_weight: float
    delinquency_weight: float


INSTITUTIONS: tuple[Institution, ...] = (
    Institution("large_bank", "Large commercial bank", "bank", "LB", 0.35, 1.1, 0.6, -0.4),
    Institution("city_bank", "City commercial bank", "bank", "CCB", 0.3, 0.0, 0.0, 0.0),
    Institution(
        "loan_facilitator",
        "Loan facilitator (助贷)",
        "loan_facilitator",
        "LF",
        -0.45,
        -1.1,
        -0.7,
        0.9,
    ),
)


def bundled_dataset_path() -> Path:
    """The bundled UCI 'default of credit card clients' file (CC BY 4.0, see NOTICE)."""
    return Path(str(resources.files("fedscore.datasets").joinpath("uci_credit_card.csv.gz")))


def load_bundled() -> pd.DataFrame:
    """The bundled UCI credit card table, as it is (see `bundled_dataset_path`)."""
    return pd.read_csv(bundled_dataset_path())


@dataclass(frozen=True)
class MarketSplit:
    """The demo's tables: one per institution plus the consortium test set."""

    parties: dict[str, pd.DataFrame]
    consortium_test: pd.DataFrame


def split_market(data: pd.DataFrame | None = None) -> MarketSplit:
    """Derive the institutions' tables and the consortium test set (deterministic)."""
    data = load_bundled() if data is None else data
    train_rows, test_rows = train_test_split(
        data, test_size=TEST_FRACTION, stratify=data[LABEL], random_state=SPLIT_SEED
    )
    rng = np.random.default_rng(SPLIT_SEED)
    log_limit = np.log(train_rows["LIMIT_BAL"].to_numpy(dtype=float))
    age = train_rows["AGE"].to_numpy(dtype=float)
    z_limit = (log_limit - log_limit.mean()) / log_limit.std()
    z_age = (age - age.mean()) / age.std()
    delinquent = (train_rows["PAY_0"].to_numpy() >= 1).astype(float)
    logits = np.column_stack(
        [
            inst.intercept
            + inst.limit_weight * z_limit
            + inst.age_weight * z_age
            + inst.delinquency_weight * delinquent
            for inst in INSTITUTIONS
        ]
    )
    # Gumbel-max: a draw from softmax(logits) per customer.
    assignment = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    parties = {
        inst.name: _institution_table(train_rows[assignment == index], inst, rng)
        for index, inst in enumerate(INSTITUTIONS)
    }
    consortium = Institution("consortium_test", "Consortium test set", "test", "CT", 0, 0, 0, 0)
    test = _institution_table(test_rows, consortium, rng, refusal_rate=0.0)
    return MarketSplit(parties=parties, consortium_test=test)


def _institution_table(
    rows: pd.DataFrame,
    institution: Institution,
    rng: np.random.Generator,
    refusal_rate: float = CONSENT_REFUSAL_RATE,
) -> pd.DataFrame:
    table = rows.drop(columns=["ID"]).reset_index(drop=True)
    numbers = rng.choice(np.arange(10_000_000, 99_999_999), size=len(table), replace=False)
    keys = [f"{institution.key_prefix}{n}" for n in numbers]
    consent = np.where(rng.random(len(table)) < refusal_rate, "N", "Y")
    table.insert(0, CUSTOMER_KEY, keys)
    table.insert(1, CONSENT, consent)
    table[BEHIND_LAST_MONTH] = (table["PAY_0"] >= 1).astype(int)
    return table
