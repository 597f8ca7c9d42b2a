"""A node's declared consent basis: the legal basis of processing when no table records it.

Some institutions collected their customers' authorization outside the table the node
reads (a signed loan contract, an application form), or process on another lawful basis
of PIPL Art. 13. The operator then declares it in the node config (`[consent]`) instead
of giving a consent table or relying on a consent column; the node uses every row, and
its de-identification report and ledger entries record the basis and its text, so the
compliance team audits the declaration rather than per-customer records.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The bases a node may declare (PIPL Art. 13 (1) to (7)).
LegalBasis = Literal[
    "consent",
    "contract",
    "human_resources",
    "legal_obligation",
    "public_health",
    "public_interest",
    "public_information",
    "other_law",
]


class ConsentBasis(BaseModel):
    """`[consent]` of a node config: the declared basis of processing for every row.

    Attributes:
        basis: "consent" (individual consent collected outside the table, e.g. on the
            signed application), "contract" (necessary to conclude or perform a contract
            the customer is party to), "human_resources", "legal_obligation",
            "public_health", "public_interest", "public_information" or "other_law"
            (PIPL Art. 13 (1) to (7)).
        legal_basis: the text the compliance team stands behind: where the consent or
            contract clause is, which law; recorded in every report and ledger entry
            (never put a customer's data here).
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    basis: LegalBasis
    legal_basis: str = Field(min_length=1, max_length=2000, pattern=r"\S")

    def recorded(self) -> dict[str, str]:
        """What reports and ledger entries record of the declaration."""
        return {"basis": self.basis, "legal_basis": self.legal_basis}
