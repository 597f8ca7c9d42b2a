"""Customer authorization: only rows with valid consent for the task's purpose are used.

Consent comes from a consent table (customer key, purpose, granted_at,
expires_at, withdrawn_at) or from a consent column of the party's table. A
consent is valid on a date when it was granted on or before it, has not
expired (expires_at after it, or none) and was not withdrawn on or before it.
The node evaluates consent at every round, so a withdrawal takes effect at
the next round of any run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from fedscore.core.errors import TableProblem, TableValidationError
from fedscore.core.tabular import header_lines, read_table
from fedscore.privacy.consent_basis import ConsentBasis

CONSENT_COLUMNS = ("purpose", "granted_at", "expires_at", "withdrawn_at")


@dataclass(frozen=True)
class ConsentCounts:
    """How many rows the consent filter kept, and why it excluded the others.

    Attributes:
        rows_read: rows of the party's table.
        valid: rows whose customer holds valid consent for the purpose.
        no_record: no consent record for the purpose.
        not_yet_granted: consent granted only after the evaluation date.
        expired: consent expired on or before the evaluation date.
        withdrawn: consent withdrawn on or before the evaluation date.
        as_of: the evaluation date (ISO).
        source: "table", "column" or "basis" (declared in the node config).
        basis: what the node config declared (`ConsentBasis.recorded`) when the source
            is "basis".
    """

    rows_read: int
    valid: int
    no_record: int = 0
    not_yet_granted: int = 0
    expired: int = 0
    withdrawn: int = 0
    as_of: str = ""
    source: str = "column"
    basis: dict[str, str] | None = None

    @property
    def excluded(self) -> int:
        return self.rows_read - self.valid

    def as_dict(self) -> dict[str, object]:
        counts = asdict(self)
        if self.basis is None:
            del counts["basis"]
        return {**counts, "excluded": self.excluded}


@dataclass(frozen=True)
class ConsentDecision:
    """Which rows may be used, and the counts behind it."""

    allowed: np.ndarray
    counts: ConsentCounts


def from_column(granted: np.ndarray) -> ConsentDecision:
    """Consent given by a yes/no column of the party's table (already validated)."""
    granted = np.asarray(granted, dtype=bool)
    counts = ConsentCounts(
        rows_read=len(granted),
        valid=int(granted.sum()),
        no_record=int((~granted).sum()),
        source="column",
    )
    return ConsentDecision(granted, counts)


def from_basis(rows: int, basis: ConsentBasis, as_of: date) -> ConsentDecision:
    """Every row, on the basis the node config declares (`[consent]`), recorded as such."""
    counts = ConsentCounts(
        rows_read=rows, valid=rows, as_of=as_of.isoformat(), source="basis", basis=basis.recorded()
    )
    return ConsentDecision(np.ones(rows, dtype=bool), counts)


class ConsentTable:
    """A validated consent table.

    Args:
        frame: One row per consent record: key column, purpose and the three dates
            (NaT where absent).
        key_column: The column holding the customer key (the same key as the party's table).
    """

    def __init__(self, frame: pd.DataFrame, key_column: str) -> None:
        self.frame = frame
        self.key_column = key_column

    @classmethod
    def load(cls, path: str | Path, key_column: str) -> ConsentTable:
        """Read and validate a consent table (CSV/Parquet), naming file, row and column."""
        path = Path(path)
        raw = read_table(path).reset_index(drop=True)
        problems: list[TableProblem] = []
        total = 0

        def add(row: int | None, column: str | None, problem: str) -> None:
            nonlocal total
            total += 1
            if len(problems) < TableValidationError.max_reported:
                problems.append(TableProblem(row, column, problem))

        for column in (key_column, "purpose", "granted_at", "expires_at", "withdrawn_at"):
            if column not in raw.columns:
                add(None, column, "required consent column is missing from the header")
        if total:
            raise TableValidationError(path, problems, total, header_lines(path))
        text = {c: raw[c].astype("string").str.strip().fillna("") for c in raw.columns}
        for column in (key_column, "purpose", "granted_at"):
            for index in np.flatnonzero((text[column] == "").to_numpy()):
                add(int(index) + 1, column, "value is missing")
        dates: dict[str, pd.Series] = {}
        for column in ("granted_at", "expires_at", "withdrawn_at"):
            present = text[column] != ""
            parsed = pd.to_datetime(
                text[column].where(present, None), errors="coerce", format="ISO8601"
            )
            for index in np.flatnonzero((present & parsed.isna()).to_numpy()):
                add(int(index) + 1, column, "not a date (expected YYYY-MM-DD)")
            dates[column] = parsed
        inverted = (dates["expires_at"] < dates["granted_at"]).to_numpy()
        for index in np.flatnonzero(inverted):
            add(int(index) + 1, "expires_at", "expires before it was granted")
        if total:
            raise TableValidationError(path, problems, total, header_lines(path))
        frame = pd.DataFrame(
            {
                key_column: text[key_column],
                "purpose": text["purpose"],
                **{c: dates[c].dt.normalize() for c in dates},
            }
        )
        return cls(frame, key_column)

    def decide(self, keys: np.ndarray, purpose: str, as_of: date) -> ConsentDecision:
        """Which of the party's rows (by customer key) hold valid consent on `as_of`."""
        day = pd.Timestamp(as_of)
        records = self.frame[self.frame["purpose"] == purpose]
        granted = records["granted_at"] <= day
        expired = records["expires_at"].notna() & (records["expires_at"] <= day)
        withdrawn = records["withdrawn_at"].notna() & (records["withdrawn_at"] <= day)
        status = np.select(
            [withdrawn, expired, ~granted],
            ["withdrawn", "expired", "not_yet_granted"],
            default="valid",
        )
        # A customer is allowed if any record is valid; otherwise the strongest reason wins.
        rank = {"valid": 0, "withdrawn": 1, "expired": 2, "not_yet_granted": 3}
        per_key = (
            pd.DataFrame({"key": records[self.key_column].to_numpy(), "status": status})
            .assign(rank=lambda f: f["status"].map(rank))
            .sort_values("rank")
            .drop_duplicates("key")
            .set_index("key")["status"]
        )
        row_status = pd.Series(keys, dtype="string").map(per_key).fillna("no_record").to_numpy()
        counts = ConsentCounts(
            rows_read=len(keys),
            valid=int((row_status == "valid").sum()),
            no_record=int((row_status == "no_record").sum()),
            not_yet_granted=int((row_status == "not_yet_granted").sum()),
            expired=int((row_status == "expired").sum()),
            withdrawn=int((row_status == "withdrawn").sum()),
            as_of=as_of.isoformat(),
            source="table",
        )
        return ConsentDecision(row_status == "valid", counts)
