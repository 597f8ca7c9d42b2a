"""PII detectors: golden cases, round trips of the public helpers, and fuzzing for totality."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fedscore.privacy.pii import (
    Detector,
    available_detectors,
    birth_date,
    default_detectors,
    get_detector,
    is_luhn_valid,
    is_male,
    is_valid_bank_card,
    is_valid_resident_id,
    is_valid_social_credit_code,
    luhn_check_digit,
    register_detector,
    resident_id_check_char,
    resolve_detectors,
    scan_text,
    social_credit_check_char,
)
from fedscore.privacy.pii import registry as registry_module
from fedscore.privacy.pii.social_credit_code import ALPHABET

RESIDENT_ID = "11010519491231002X"
CREDIT_CODE = "91110108551385082Q"
BUILTIN = {"resident_id", "mobile", "bank_card", "social_credit_code", "email"}


def resident_id(region: str, born: str, sequence: str) -> str:
    """An 18-character ID with the right check character."""
    body = region + born + sequence
    return body + resident_id_check_char(body)


def card(prefix: str, length: int) -> str:
    """A Luhn-valid card number: `prefix`, zeros up to length − 1, check digit."""
    body = (prefix + "0123456789" * 2)[: length - 1]
    return body + luhn_check_digit(body)


def luhn_broken(number: str) -> str:
    """`number` with its check digit changed, so that it fails Luhn."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# --- registry ---------------------------------------------------------------------------


def test_builtin_detectors_are_registered():
    assert set(available_detectors()) >= BUILTIN
    assert [d.name for d in default_detectors()] == available_detectors()
    for name in BUILTIN:
        detector = get_detector(name)
        assert detector.name == name
        assert name in repr(detector)


def test_unknown_detector_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="resident_id"):
        get_detector("passport")
    with pytest.raises(KeyError):
        resolve_detectors(["mobile", "passport"])


def test_register_refuses_duplicates_and_non_detectors(monkeypatch):
    monkeypatch.setattr(registry_module, "DETECTORS", registry_module.DETECTORS.copy())

    class Digits8(Detector):
        name = "eight_digits"
        pattern = re.compile(r"(?<![0-9])[0-9]{8}(?![0-9])")

        def is_valid(self, candidate: str, context: str = "") -> bool:
            return isinstance(candidate, str) and len(candidate) == 8

    detector = register_detector(Digits8())
    assert get_detector("eight_digits") is detector
    assert "eight_digits" in available_detectors()
    assert scan_text("编号12345678号", ["eight_digits"]) == {"eight_digits": 1}
    with pytest.raises(ValueError, match="already registered"):
        register_detector(Digits8())
    register_detector(Digits8(), replace=True)
    with pytest.raises(TypeError):
        register_detector("mobile")  # type: ignore[arg-type]
    assert resolve_detectors("mobile") == [get_detector("mobile")]


# --- resident ID (GB 11643) ---------------------------------------------------------------


def test_resident_id_golden():
    assert resident_id_check_char(RESIDENT_ID[:17]) == "X"
    assert is_valid_resident_id(RESIDENT_ID)
    assert is_valid_resident_id(RESIDENT_ID.lower())  # lowercase x
    assert not is_valid_resident_id(RESIDENT_ID[:17] + "1")  # wrong check character
    assert birth_date(RESIDENT_ID) == date(1949, 12, 31)
    assert is_male(RESIDENT_ID) is False  # sequence 002: even
    assert is_male(resident_id("110105", "19491231", "001")) is True
    assert get_detector("resident_id").find(f"身份证号{RESIDENT_ID}。") == [RESIDENT_ID]


def test_resident_id_every_single_character_change_is_caught():
    for position in range(18):
        for replacement in "0123456789X":
            if replacement == RESIDENT_ID[position]:
                continue
            changed = RESIDENT_ID[:position] + replacement + RESIDENT_ID[position + 1 :]
            assert not is_valid_resident_id(changed), changed


def test_resident_id_birth_date_rules():
    tomorrow = date.today() + timedelta(days=1)
    assert not is_valid_resident_id(resident_id("110105", tomorrow.strftime("%Y%m%d"), "002"))
    assert is_valid_resident_id(resident_id("110105", date.today().strftime("%Y%m%d"), "002"))
    # `today` moves the horizon
    born_2030 = resident_id("110105", "20300101", "002")
    assert not is_valid_resident_id(born_2030)
    assert is_valid_resident_id(born_2030, today=date(2031, 1, 1))
    assert not is_valid_resident_id(resident_id("110105", "19900230", "002"))  # Feb 30
    assert not is_valid_resident_id(resident_id("110105", "19000229", "002"))  # 1900 not leap
    assert is_valid_resident_id(resident_id("110105", "20000229", "002"))  # 2000 leap
    assert not is_valid_resident_id(resident_id("110105", "18991231", "002"))  # before 1900
    assert is_valid_resident_id(resident_id("110105", "19000101", "002"))
    assert not is_valid_resident_id(resident_id("110105", "19901301", "002"))  # month 13
    assert not is_valid_resident_id(resident_id("110105", "19900100", "002"))  # day 0


def test_resident_id_region_rules():
    assert is_valid_resident_id(resident_id("440301", "19850612", "123"))  # Shenzhen
    assert is_valid_resident_id(resident_id("810000", "19850612", "123"))  # Hong Kong
    for region in ("000000", "100000", "160000", "240000", "900000", "990000"):
        assert not is_valid_resident_id(resident_id(region, "19850612", "123")), region


def test_legacy_15_digit_resident_id():
    legacy = "110105491231002"  # Beijing, 1949-12-31, sequence 002
    assert is_valid_resident_id(legacy)
    assert birth_date(legacy) == date(1949, 12, 31)
    assert is_male(legacy) is False
    assert is_male("110105491231003") is True
    assert not is_valid_resident_id("110105490230002")  # Feb 30
    assert not is_valid_resident_id("000105491231002")  # no such province
    assert get_detector("resident_id").find(f"旧身份证{legacy}已换") == [legacy]
    assert get_detector("resident_id").find(f"{legacy}1") == []  # 16 digits: neither form


def test_resident_id_helpers_reject_garbage():
    for bad in (
        "",
        "X",
        "1101051949123100",
        "11010519491231002XX",
        "１１０１０５１９４９１２３１００２X",
    ):
        assert not is_valid_resident_id(bad)
        assert birth_date(bad) is None
        assert is_male(bad) is None
    assert not is_valid_resident_id(None)
    assert not is_valid_resident_id(110105491231002)
    with pytest.raises(ValueError):
        resident_id_check_char("1101051949123100X")
    with pytest.raises(ValueError):
        resident_id_check_char("١١٠١٠٥١٩٤٩١٢٣١٠٠٢")  # Arabic-Indic digits are not ASCII


# --- mobile --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("13812345678", ["13812345678"]),
        ("+86 13812345678", ["+86 13812345678"]),
        ("+8613812345678", ["+8613812345678"]),
        ("0086-19912345678", ["0086-19912345678"]),
        ("8613812345678", ["8613812345678"]),
        ("联系电话13812345678转", ["13812345678"]),
        ("手机:15012345678,备用17712345678。", ["15012345678", "17712345678"]),
        ("12812345678", []),  # second digit 2
        ("10812345678", []),
        ("138123456789", []),  # 12-digit run
        ("1381234567", []),  # 10 digits
        ("213812345678", []),  # preceded by a digit
        ("١٣٨١٢٣٤٥٦٧٨", []),  # non-ASCII digits
    ],
)
def test_mobile_golden(text, found):
    assert get_detector("mobile").find(text) == found


# --- bank card -----------------------------------------------------------------------------


def test_luhn_helpers():
    assert luhn_check_digit("7992739871") == "3"
    assert is_luhn_valid("79927398713")
    assert not is_luhn_valid("79927398710")
    for bad in ("", "0", "7992739871a", "٧٩٩٢٧٣٩٨٧١٣", None, 79927398713):
        assert not is_luhn_valid(bad)
    with pytest.raises(ValueError):
        luhn_check_digit("")
    with pytest.raises(ValueError):
        luhn_check_digit("12 34")


def test_unionpay_card_in_chinese_text_without_separators():
    number = card("622202", 19)
    assert is_luhn_valid(number)
    detector = get_detector("bank_card")
    assert detector.find(f"卡号{number}请核对") == [number]
    assert detector.find(f"转入{number}") == [number]  # Luhn-valid: no keyword needed
    assert detector.find(f"卡号{number}0") == []  # 20 digits: not a card


@pytest.mark.parametrize("length", [16, 17, 18, 19])
def test_luhn_valid_cards_of_every_length(length):
    number = card("4", length)
    assert get_detector("bank_card").find(f"number {number}.") == [number]


def test_grouped_card_numbers():
    number = card("622202", 19)
    grouped = " ".join(number[i : i + 4] for i in range(0, 19, 4))
    dashed = "-".join(number[i : i + 4] for i in range(0, 16, 4))
    detector = get_detector("bank_card")
    assert detector.find(f"银行卡 {grouped} 已绑定") == [grouped]
    sixteen = card("4", 16)
    dashed = "-".join(sixteen[i : i + 4] for i in range(0, 16, 4))
    assert detector.find(f"card:{dashed}") == [dashed]
    assert detector.find(f"1234 {dashed}") == []  # part of a longer grouped run


def test_unionpay_failing_luhn_needs_a_card_keyword():
    broken = luhn_broken(card("622202", 19))
    detector = get_detector("bank_card")
    for keyword in ("卡号", "银行卡：", "账号 ", "Card No.: ", "card_no="):
        assert detector.find(f"{keyword}{broken}") == [broken], keyword
    assert detector.find(broken) == []
    assert detector.find(f"流水号{broken}") == []
    assert detector.find(f"卡号已经挂失，请见附件第三页第二行的交易流水{broken}") == []  # too far
    assert detector.find(f"卡号\n{broken}") == []  # keyword on another line
    broken_visa = luhn_broken(card("4", 16))
    assert detector.find(f"卡号{broken_visa}") == []  # the keyword rule is for UnionPay only


def test_resident_ids_are_not_cards_unless_named():
    luhn_ids = [
        number
        for sequence in range(100, 400)
        if is_valid_resident_id(number := resident_id("440301", "19850612", str(sequence)))
        and is_luhn_valid(number)
    ]
    assert luhn_ids
    detector = get_detector("bank_card")
    for number in luhn_ids:
        assert detector.find(f"证件{number}") == []
        assert detector.find(f"卡号{number}") == [number]
    assert not is_valid_bank_card(luhn_ids[0])
    assert is_valid_bank_card(luhn_ids[0], context="账号:")


def test_all_digit_credit_codes_are_not_cards_unless_named():
    bodies = [f"91110108{serial}" for serial in range(100_000_000, 100_003_000)]
    codes = [body + social_credit_check_char(body) for body in bodies]
    codes = [code for code in codes if code.isdigit() and is_luhn_valid(code)]
    assert codes
    detector = get_detector("bank_card")
    for code in codes[:20]:
        assert is_valid_social_credit_code(code)
        assert detector.find(f"信用代码{code}") == []
        assert detector.find(f"卡号{code}") == [code]


def test_seventeen_digits_before_an_x_are_not_a_card():
    ids = [resident_id("110105", "19800101", f"{s:03d}") for s in range(1000)]
    with_x = [number for number in ids if number.endswith("X")]
    assert with_x
    assert all(get_detector("bank_card").find(f"卡号{number}") == [] for number in with_x)


# --- unified social credit code (GB 32100) --------------------------------------------------


def test_social_credit_code_golden():
    assert social_credit_check_char(CREDIT_CODE[:17]) == "Q"
    assert is_valid_social_credit_code(CREDIT_CODE)
    detector = get_detector("social_credit_code")
    assert detector.find(f"统一社会信用代码{CREDIT_CODE}。") == [CREDIT_CODE]
    assert detector.find(f"X{CREDIT_CODE}") == []  # inside a longer code
    assert not is_valid_social_credit_code(CREDIT_CODE.lower())


def test_social_credit_code_every_single_character_change_is_caught():
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == CREDIT_CODE[position]:
                continue
            changed = CREDIT_CODE[:position] + replacement + CREDIT_CODE[position + 1 :]
            assert not is_valid_social_credit_code(changed), changed


def test_social_credit_code_structure():
    def code(first17: str) -> str:
        return first17 + social_credit_check_char(first17)

    assert is_valid_social_credit_code(code("12100000400010000"))  # national registration
    assert not is_valid_social_credit_code(code("B1110108551385082"))  # unknown authority
    assert not is_valid_social_credit_code(code("91990108551385082"))  # unknown region
    assert not is_valid_social_credit_code("91110108551385082I")  # I is not in the alphabet
    with pytest.raises(ValueError):
        social_credit_check_char("9111010855138508O")


# --- e-mail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("邮箱zhang.san@example.com联系", ["zhang.san@example.com"]),
        ("请发送至li_si+loan@mail.bank.com.cn。谢谢", ["li_si+loan@mail.bank.com.cn"]),
        ("a@b.co, c@d.org", ["a@b.co", "c@d.org"]),
        ("user@localhost", []),
        ("user@example.c0m", []),
        ("not..an@example.com", []),
        ("@example.com", []),
    ],
)
def test_email_golden(text, found):
    assert get_detector("email").find(text) == found


# --- totality: nothing ever raises ------------------------------------------------------------


#: 10,000 in `make test` (about 5 s: Hypothesis spends about 0.3 ms per example of its
#: own); `make fuzz` runs 10^6.
FUZZ_EXAMPLES = int(os.environ.get("FEDSCORE_PII_FUZZ_EXAMPLES", "10000"))


def _exercise(text: str) -> None:
    counts = scan_text(text)
    for detector in default_detectors():
        found = detector.find(text)
        assert all(isinstance(match, str) and match in text for match in found)
        assert len(found) == counts.get(detector.name, 0)
        detector.is_valid(text)
        detector.is_valid(text, text)


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text())
def test_fuzz_arbitrary_text_never_raises(text):
    _exercise(text)


TOKENS = [
    *"0123456789",
    "X",
    "x",
    " ",
    "-",
    "+86",
    "@",
    ".",
    "\n",
    "卡号",
    "银行卡",
    "账号",
    "card no",
    "身份证",
    "北京",
    "邮箱",
    "号",
    "62",
    "138",
    "19491231",
    "110105",
    "example.com",
    RESIDENT_ID,
    CREDIT_CODE,
    card("622202", 19),
    "١٣٨",
    "１",
]


@pytest.mark.slow
@settings(max_examples=5_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_fuzz_pii_like_text_never_raises(text):
    _exercise(text)


@settings(max_examples=2_000, deadline=None)
@given(
    st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.text(), st.lists(st.text()))
)
def test_validators_are_total_on_any_value(value):
    for detector in default_detectors():
        assert detector.is_valid(value, value) in (True, False)  # type: ignore[arg-type]
    for check in (is_valid_resident_id, is_valid_social_credit_code, is_luhn_valid, is_male):
        check(value)
    birth_date(value)


# --- round trips of the generator helpers ------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["110105", "310104", "440305", "510107", "650102", "820000"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.integers(0, 999),
    st.sampled_from(["", "身份证号", "ID:", "证件号码 "]),
)
def test_generated_resident_ids_are_valid_and_found(region, born, sequence, prefix):
    number = resident_id(region, born.strftime("%Y%m%d"), f"{sequence:03d}")
    assert is_valid_resident_id(number)
    assert birth_date(number) == born
    assert is_male(number) is (sequence % 2 == 1)
    assert get_detector("resident_id").find(f"{prefix}{number}，谢谢") == [number]


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"62[0-9]{13,16}", fullmatch=True), st.sampled_from(["", "卡号", "转账至"]))
def test_generated_cards_are_found(body, prefix):
    number = body + luhn_check_digit(body)
    assert is_luhn_valid(number)
    # An 18-digit number that is also a resident ID or credit code needs a card keyword
    # (see bank_card's docstring); it is still reported, by the other detector.
    other = is_valid_resident_id(number) or is_valid_social_credit_code(number)
    assume(prefix == "卡号" or not other)
    assert scan_text(f"{prefix}{number}元", ["bank_card"]) == {"bank_card": 1}
