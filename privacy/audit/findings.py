"""What an audit found: failures (the evidence cannot be trusted) and warnings."""

from __future__ import annotations

from dataclasses import dataclass

FAILURE, WARNING = "failure", "warning"
#: What a finding is about: the ledger's chain and signatures, the keys it was checked
#: with, the accountant state, the de-identification reports, a run's signed heads, and a
#: ledger against the signed heads the server received.
LEDGER, KEYS, ACCOUNTANT, DEIDENTIFICATION, SIGNED_HEADS, SERVER_COPY = (
    "ledger",
    "keys",
    "accountant",
    "deidentification",
    "signed_heads",
    "server_copy",
)


@dataclass(frozen=True)
class Finding:
    """Something an auditor must know about.

    Attributes:
        severity: "failure" (the evidence cannot be trusted) or "warning" (it can, but
            something needs a look).
        subject: the institution or run it concerns.
        message: what was found, naming files and entries, never personal data.
        check: which check found it (one of the names above, e.g. "accountant").
    """

    severity: str
    subject: str
    message: str
    check: str
