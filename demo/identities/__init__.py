"""Realistic synthetic identities and consent records for the demo market's tables.

Every person here is invented: names come from Faker's ``zh_CN`` locale, all
numbers are drawn at random and only *shaped* like the real thing, so the
tables exercise PII handling (detection, pseudonymization, consent checks,
per-customer DP bounds) without describing anyone.

What each customer row gets (see `add_identities`):

- ``name``: a Chinese full name, male or female according to ``SEX``.
- ``id_number``: an 18-digit resident ID (GB 11643-1999): a real 6-digit region
  code from `REGIONS`, the birth date (consistent with ``AGE`` at
  `REFERENCE_DATE`, when the UCI data was collected), a 3-digit sequence
  whose parity gives the sex (odd = male, ``SEX == 1``) and a valid check char.
- ``mobile``: an 11-digit mainland mobile number on a real operator prefix.
- ``card_number``: a UnionPay card number (a ``62`` BIN, 16 or 19 digits, valid Luhn).
- ``province``, ``city``, ``district``: the place of residence; the ID's region
  for `RESIDENT_SHARE` of the people, another region for the rest.
- ``application_date``: when the card was applied for, before the first bill
  month of the data (2004-01-01 to 2005-03-31).

The market also gets the people structure a real one has:

- a customer can be the same person at two institutions (`SHARED_CUSTOMERS`):
  name, ID, mobile and residence are copied, the card is the institution's own;
- a few people hold two cards, i.e. two rows, at one institution
  (`REPEAT_CUSTOMERS`); each row keeps its own ``customer_id``, so only the ID
  number links them — the DP privacy unit is the person, not the row;
- a consent table per institution (see `consent_table`).

A copied identity only goes to a row with the same ``SEX`` and ``AGE``, so every
row's ID stays consistent with its own UCI columns.

The output is deterministic for a given seed and Faker version (Faker's word
lists may change between releases).

One module per job: `names` (Faker, the `demo` extra), `resident_ids`, `contacts`
(mobiles), `cards`, `regions`, `consent`, `sharing` (shared and repeat customers) and
`population`, which puts them together (`add_identities`).
"""

from fedscore.demo.identities.consent import (
    CONSENT_COLUMNS,
    CONSENT_SHARES,
    CREDIT_SCORING,
    DEFAULT_AS_OF,
    MARKETING,
    MARKETING_SHARE,
    RENEWED_SHARE,
    consent_table,
    valid_consent_ids,
)
from fedscore.demo.identities.population import (
    APPLICATION_END,
    APPLICATION_START,
    IDENTITY_COLUMNS,
    IdentifiedMarket,
    add_identities,
)
from fedscore.demo.identities.regions import REGIONS, RESIDENT_SHARE, Region
from fedscore.demo.identities.resident_ids import REFERENCE_DATE
from fedscore.demo.identities.sharing import PERSON_COLUMNS, REPEAT_CUSTOMERS, SHARED_CUSTOMERS

__all__ = [
    "APPLICATION_END",
    "APPLICATION_START",
    "CONSENT_COLUMNS",
    "CONSENT_SHARES",
    "CREDIT_SCORING",
    "DEFAULT_AS_OF",
    "IDENTITY_COLUMNS",
    "MARKETING",
    "MARKETING_SHARE",
    "PERSON_COLUMNS",
    "REFERENCE_DATE",
    "REGIONS",
    "RENEWED_SHARE",
    "REPEAT_CUSTOMERS",
    "RESIDENT_SHARE",
    "SHARED_CUSTOMERS",
    "IdentifiedMarket",
    "Region",
    "add_identities",
    "consent_table",
    "valid_consent_ids",
]
