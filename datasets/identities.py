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
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from faker import Faker

from fedscore.datasets.market import CONSENT, CUSTOMER_KEY, MarketSplit
from fedscore.privacy.pii import luhn_check_digit, resident_id_check_char

REFERENCE_DATE = date(2005, 10, 1)
"""The date ``AGE`` refers to (the UCI data describes April-September 2005)."""
DEFAULT_AS_OF = date(2026, 11, 25)
"""The run date consent validity is judged at, by default."""
APPLICATION_START = date(2004, 1, 1)
APPLICATION_END = date(2005, 3, 31)
RESIDENT_SHARE = 0.8
"""Share of people living in the region of their ID (the rest moved elsewhere).

Exact per table as drawn; copying people onto other rows (`SHARED_CUSTOMERS`,
`REPEAT_CUSTOMERS`) moves a table's share by a few tenths of a percent."""

CREDIT_SCORING = "credit_risk_scoring"
MARKETING = "marketing"
CONSENT_COLUMNS = ("customer_id", "purpose", "granted_at", "expires_at", "withdrawn_at")
CONSENT_SHARES = {"valid": 0.93, "expired": 0.02, "withdrawn": 0.02, "none": 0.03}
"""Credit-scoring consent status of an institution's customers at the run date."""
RENEWED_SHARE = 0.03
"""Share of validly consenting customers who also hold an older, expired record."""
MARKETING_SHARE = 0.10
"""Share of customers with a (separate) marketing consent record."""

SHARED_CUSTOMERS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("loan_facilitator", ("large_bank", "city_bank"), 0.03),
)
"""(party, source parties, share): that share of the party's rows are people
who are also customers of one of the source parties."""
REPEAT_CUSTOMERS: tuple[tuple[str, float], ...] = (("large_bank", 0.005),)
"""(party, share): that share of the party's rows are a second card of a person
who already has another row there."""

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
PERSON_COLUMNS = ("name", "id_number", "mobile", "province", "city", "district")
"""The columns that describe the person (copied when a person has several rows)."""


@dataclass(frozen=True)
class Region:
    """An administrative district and its 6-digit code (GB/T 2260)."""

    province: str
    city: str
    district: str
    code: str


REGIONS: tuple[Region, ...] = (
    Region("北京市", "北京市", "东城区", "110101"),
    Region("北京市", "北京市", "西城区", "110102"),
    Region("北京市", "北京市", "朝阳区", "110105"),
    Region("北京市", "北京市", "丰台区", "110106"),
    Region("北京市", "北京市", "海淀区", "110108"),
    Region("天津市", "天津市", "和平区", "120101"),
    Region("上海市", "上海市", "黄浦区", "310101"),
    Region("上海市", "上海市", "徐汇区", "310104"),
    Region("上海市", "上海市", "长宁区", "310105"),
    Region("上海市", "上海市", "浦东新区", "310115"),
    Region("重庆市", "重庆市", "渝中区", "500103"),
    Region("广东省", "广州市", "荔湾区", "440103"),
    Region("广东省", "广州市", "越秀区", "440104"),
    Region("广东省", "广州市", "天河区", "440106"),
    Region("广东省", "深圳市", "罗湖区", "440303"),
    Region("广东省", "深圳市", "福田区", "440304"),
    Region("广东省", "深圳市", "南山区", "440305"),
    Region("浙江省", "杭州市", "上城区", "330102"),
    Region("浙江省", "杭州市", "西湖区", "330106"),
    Region("浙江省", "杭州市", "滨江区", "330108"),
    Region("江苏省", "南京市", "玄武区", "320102"),
    Region("江苏省", "南京市", "秦淮区", "320104"),
    Region("江苏省", "南京市", "鼓楼区", "320106"),
    Region("江苏省", "苏州市", "虎丘区", "320505"),
    Region("江苏省", "苏州市", "吴中区", "320506"),
    Region("四川省", "成都市", "锦江区", "510104"),
    Region("四川省", "成都市", "青羊区", "510105"),
    Region("四川省", "成都市", "武侯区", "510107"),
    Region("湖北省", "武汉市", "江岸区", "420102"),
    Region("湖北省", "武汉市", "武昌区", "420106"),
    Region("湖北省", "武汉市", "洪山区", "420111"),
    Region("陕西省", "西安市", "新城区", "610102"),
    Region("陕西省", "西安市", "碑林区", "610103"),
    Region("陕西省", "西安市", "雁塔区", "610113"),
    Region("湖南省", "长沙市", "芙蓉区", "430102"),
    Region("山东省", "济南市", "历下区", "370102"),
    Region("福建省", "厦门市", "思明区", "350203"),
)

MOBILE_PREFIXES = (
    # China Mobile
    "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "157", "158", "159", "178", "182", "183", "187", "188",
    # China Unicom
    "130", "131", "132", "155", "156", "176", "185", "186",
    # China Telecom
    "133", "153", "177", "180", "181", "189",
)  # fmt: skip

CARD_BINS: tuple[tuple[str, int], ...] = (
    ("622202", 19),  # ICBC debit
    ("621226", 19),  # ICBC debit
    ("622848", 19),  # ABC debit
    ("621700", 19),  # CCB debit
    ("622700", 19),  # CCB debit
    ("622262", 19),  # BOCOM debit
    ("621483", 16),  # CMB debit
    ("622588", 16),  # CMB credit
    ("622575", 16),  # CMB credit
)
"""UnionPay BINs (issuer identification numbers) and their card number lengths."""


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
    """
    earliest = APPLICATION_END + timedelta(days=730)
    if as_of < earliest:
        raise ValueError(f"as_of {as_of} is too early: it must be on or after {earliest}")
    tables = dict(split.parties)
    tables["consortium_test"] = split.consortium_test
    identified = {
        name: _identity_table(frame, _rng(seed, name), _faker(seed, name))
        for name, frame in tables.items()
    }
    _make_unique(identified, _rng(seed, "unique"))
    parties = {name: identified[name] for name in split.parties}
    _share_people(parties, _rng(seed, "sharing"))
    consents = {
        name: consent_table(frame, _rng(seed, f"consent:{name}"), as_of)
        for name, frame in parties.items()
    }
    return IdentifiedMarket(
        parties=parties,
        consents=consents,
        consortium_test=identified["consortium_test"],
        shared_customers=_shared_customers(parties),
    )


def valid_consent_ids(
    consents: pd.DataFrame, as_of: date = DEFAULT_AS_OF, purpose: str = CREDIT_SCORING
) -> set[str]:
    """Customer IDs holding a consent for ``purpose`` valid at ``as_of``.

    A record is valid when granted on or before ``as_of``, not expired
    (``expires_at`` empty or after ``as_of``) and not withdrawn (``withdrawn_at``
    empty or after ``as_of``); one valid record suffices. Empty means None, NaN
    or "" (as read back from CSV).
    """
    day = as_of.isoformat()
    records = consents[consents["purpose"] == purpose].fillna("")
    granted = records["granted_at"].ne("") & records["granted_at"].le(day)
    live = records["expires_at"].eq("") | records["expires_at"].gt(day)
    kept = records["withdrawn_at"].eq("") | records["withdrawn_at"].gt(day)
    return set(records.loc[granted & live & kept, "customer_id"])


def consent_table(
    party: pd.DataFrame, rng: np.random.Generator, as_of: date = DEFAULT_AS_OF
) -> pd.DataFrame:
    """Consent records of one institution's customers.

    Each customer's credit-scoring status at ``as_of`` follows `CONSENT_SHARES`
    (exact counts, randomly assigned): ``valid`` (granted in the last three
    years, no expiry or a future one; `RENEWED_SHARE` of them also have an
    older expired record), ``expired``, ``withdrawn`` or ``none`` (no
    credit-scoring record; half of these have a marketing record only).
    `MARKETING_SHARE` of the customers also hold a marketing record. Records are
    consents collected long after the card applications, so every date is
    after the customer's ``application_date``. Missing dates are missing values
    (None / NaN; "" once written to CSV and read back as text).

    Args:
        party: an institution table with ``customer_id`` and ``application_date``.
        rng: the random source.
        as_of: the run date the statuses refer to.
    """
    n = len(party)
    ids = party[CUSTOMER_KEY].to_numpy()
    applied = party["application_date"].to_numpy(dtype="datetime64[D]")
    day = np.datetime64(as_of, "D")
    status = _exact_assignment(rng, n, CONSENT_SHARES)
    records: list[pd.DataFrame] = []

    def add(
        rows: np.ndarray,
        purpose: str,
        granted: np.ndarray,
        expires: np.ndarray,
        withdrawn: np.ndarray,
    ) -> None:
        records.append(
            pd.DataFrame(
                {
                    "customer_id": ids[rows],
                    "purpose": purpose,
                    "granted_at": _iso(granted),
                    "expires_at": _iso(expires),
                    "withdrawn_at": _iso(withdrawn),
                }
            )
        )

    def since(rows: np.ndarray, days_back: int, latest: np.datetime64 | np.ndarray) -> np.ndarray:
        earliest = np.maximum(applied[rows] + 1, day - days_back)
        return _uniform_dates(rng, earliest, latest)

    valid = np.flatnonzero(status == "valid")
    granted = since(valid, 3 * 365, day - 1)
    open_ended = rng.random(len(valid)) < 0.6
    expires = _uniform_dates(rng, day + 1, granted + 5 * 365)
    add(valid, CREDIT_SCORING, granted, np.where(open_ended, _NAT, expires), _nat(len(valid)))

    renewed = rng.random(len(valid)) < RENEWED_SHARE
    old_granted = since(valid[renewed], 8 * 365, granted[renewed] - 400)
    old_expires = _uniform_dates(rng, old_granted + 365, granted[renewed])
    add(valid[renewed], CREDIT_SCORING, old_granted, old_expires, _nat(int(renewed.sum())))

    expired = np.flatnonzero(status == "expired")
    granted = since(expired, 5 * 365, day - 400)
    expires = _uniform_dates(rng, granted + 365, day - 1)
    add(expired, CREDIT_SCORING, granted, expires, _nat(len(expired)))

    withdrawn = np.flatnonzero(status == "withdrawn")
    granted = since(withdrawn, 3 * 365, day - 31)
    withdrawn_at = _uniform_dates(rng, granted + 1, day - 1)
    open_ended = rng.random(len(withdrawn)) < 0.5
    expires = np.where(open_ended, _NAT, granted + 5 * 365)
    add(withdrawn, CREDIT_SCORING, granted, expires, withdrawn_at)

    none = np.flatnonzero(status == "none")
    marketing = np.union1d(
        none[rng.random(len(none)) < 0.5], np.flatnonzero(rng.random(n) < MARKETING_SHARE)
    )
    granted = since(marketing, 5 * 365, day - 1)
    withdrawn_at = _uniform_dates(rng, granted + 1, day)
    withdrawn_at = np.where(rng.random(len(marketing)) < 0.2, withdrawn_at, _NAT)
    add(marketing, MARKETING, granted, _nat(len(marketing)), withdrawn_at)

    table = pd.concat(records, ignore_index=True)
    for column in ("expires_at", "withdrawn_at"):
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table.sort_values(["customer_id", "purpose", "granted_at"], ignore_index=True)


# --- one table ------------------------------------------------------------------


def _identity_table(frame: pd.DataFrame, rng: np.random.Generator, fake: Faker) -> pd.DataFrame:
    n = len(frame)
    male = frame["SEX"].to_numpy() == 1
    age = frame["AGE"].to_numpy(dtype=int)
    home = rng.integers(0, len(REGIONS), size=n)
    residence = home.copy()
    movers = rng.permutation(n)[: int(np.floor(n * (1 - RESIDENT_SHARE)))]
    # Another region than home: shift by 1..len-1 places.
    residence[movers] = (home[movers] + rng.integers(1, len(REGIONS), len(movers))) % len(REGIONS)
    applied = _uniform_dates(
        rng, np.datetime64(APPLICATION_START, "D"), np.datetime64(APPLICATION_END, "D"), n
    )
    identity = pd.DataFrame(
        {
            "name": [_name(fake, m) for m in male],
            "id_number": _id_numbers(rng, home, age, male),
            "mobile": _mobiles(rng, n),
            "card_number": _card_numbers(rng, n),
            "province": [REGIONS[i].province for i in residence],
            "city": [REGIONS[i].city for i in residence],
            "district": [REGIONS[i].district for i in residence],
            "application_date": _iso(applied),
        }
    )
    rest = frame.drop(columns=[CUSTOMER_KEY, CONSENT], errors="ignore").reset_index(drop=True)
    keys = frame[[CUSTOMER_KEY]].reset_index(drop=True)
    return pd.concat([keys, identity, rest], axis=1)


def _name(fake: Faker, male: bool) -> str:
    # zh_CN's name_male()/name_female() ignore the sex; its first-name lists do not.
    return fake.last_name() + (fake.first_name_male() if male else fake.first_name_female())


def _id_numbers(
    rng: np.random.Generator, region: np.ndarray, age: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """Resident IDs: region code, birth date (age ``age`` at REFERENCE_DATE), sequence, check."""
    n = len(region)
    # Born in (REFERENCE_DATE - (age + 1) years, REFERENCE_DATE - age years].
    ref = REFERENCE_DATE
    latest = np.array([date(ref.year - a, ref.month, ref.day) for a in age], "datetime64[D]")
    earliest = np.array([date(ref.year - a - 1, ref.month, ref.day) for a in age], "datetime64[D]")
    born = _uniform_dates(rng, earliest + 1, latest, n)
    codes = np.array([REGIONS[i].code for i in region], dtype=object)
    births = np.char.replace(np.datetime_as_string(born, unit="D"), "-", "")
    bodies = [
        f"{code}{birth}{seq:03d}"
        for code, birth, seq in zip(codes, births, _sequences(rng, male), strict=True)
    ]
    return np.array([_with_id_check(body) for body in bodies], dtype=object)


def _sequences(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """3-digit sequence numbers: odd (001-999) for men, even (002-998) for women."""
    half = rng.integers(0, 499, size=len(male))  # 0..498
    return np.where(male, 2 * half + 1, 2 * half + 2)


def _with_id_check(body: str) -> str:
    return body + resident_id_check_char(body)


def _mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    subscriber = rng.integers(0, 100_000_000, n)
    return np.array([f"{p}{s:08d}" for p, s in zip(prefixes, subscriber, strict=True)], object)


def _card_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    bins = rng.integers(0, len(CARD_BINS), n)
    numbers = []
    for index in bins:
        prefix, length = CARD_BINS[index]
        account = rng.integers(0, 10, length - len(prefix) - 1)
        body = prefix + "".join(map(str, account))
        numbers.append(body + luhn_check_digit(body))
    return np.array(numbers, dtype=object)


# --- the market -----------------------------------------------------------------


def _make_unique(tables: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
    """Redraw the rare colliding ID, mobile and card numbers of distinct people."""
    for column in ("id_number", "mobile", "card_number"):
        seen: set[str] = set()
        for frame in tables.values():
            values = frame[column].to_numpy().copy()
            for row, value in enumerate(values):
                while value in seen:
                    value = _redraw(column, value, rng)
                values[row] = value
                seen.add(value)
            frame[column] = values


def _redraw(column: str, value: str, rng: np.random.Generator) -> str:
    if column == "id_number":  # a new sequence number of the same parity
        male = int(value[16]) % 2 == 1
        return _with_id_check(value[:14] + f"{int(_sequences(rng, np.array([male]))[0]):03d}")
    if column == "mobile":
        return value[:3] + f"{rng.integers(0, 100_000_000):08d}"
    prefix = value[:6]
    body = prefix + "".join(map(str, rng.integers(0, 10, len(value) - 7)))
    return body + luhn_check_digit(body)


def _share_people(parties: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
    """Copy people onto other rows: repeat customers first, then shared customers.

    A row is either a source of one copy or a target, never both, so a person
    has at most two rows. The source has the same SEX and AGE as the target.
    """
    used: set[tuple[str, int]] = set()
    plans = [(party, (party,), share) for party, share in REPEAT_CUSTOMERS]
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


def _sex_age(frame: pd.DataFrame) -> list[tuple[int, int]]:
    return list(
        zip(frame["SEX"].astype(int).tolist(), frame["AGE"].astype(int).tolist(), strict=True)
    )


def _shared_customers(parties: dict[str, pd.DataFrame]) -> pd.DataFrame:
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


# --- helpers --------------------------------------------------------------------

_NAT = np.datetime64("NaT", "D")


def _nat(n: int) -> np.ndarray:
    return np.full(n, _NAT, dtype="datetime64[D]")


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per table and purpose, from one seed."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(stream.encode()),))
    )


def _faker(seed: int, stream: str) -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(seed * 1_000_003 + zlib.crc32(stream.encode()))
    return fake


def _uniform_dates(
    rng: np.random.Generator,
    earliest: np.datetime64 | np.ndarray,
    latest: np.datetime64 | np.ndarray,
    n: int | None = None,
) -> np.ndarray:
    """Uniform days in [earliest, latest] (element-wise; latest is clipped up to earliest)."""
    earliest = np.asarray(earliest, dtype="datetime64[D]")
    latest = np.maximum(np.asarray(latest, dtype="datetime64[D]"), earliest)
    size = n if n is not None else np.broadcast(earliest, latest).shape
    span = (latest - earliest).astype(int) + 1
    return earliest + np.floor(rng.random(size) * span).astype(int)


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO date strings, None for NaT."""
    days = np.asarray(days, dtype="datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = None
    return text


def _exact_assignment(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    """Labels in exact proportions (largest remainder), randomly permuted."""
    labels = list(shares)
    raw = np.array([shares[label] * n for label in labels])
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw)[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.array(labels, dtype=object), counts))
