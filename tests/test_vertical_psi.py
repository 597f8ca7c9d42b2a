"""The vertical private set intersection: exact, private, hostile-proof, one step per process."""

from __future__ import annotations

import hashlib
import random
import stat
import subprocess
import sys
import textwrap

import pytest

from fedscore.core.signing import SigningKey
from fedscore.privacy.pii.resident_id import resident_id_check_char
from fedscore.vertical.channel import Channel
from fedscore.vertical.psi import group
from fedscore.vertical.psi.domain import PsiDomain, commitment
from fedscore.vertical.psi.group import (
    PeerMessageError,
    blind,
    hash_to_group,
    is_valid_scalar,
    new_secret_scalar,
    split_points,
    validate_points,
)
from fedscore.vertical.psi.identifiers import normalize_resident_id
from fedscore.vertical.psi.protocol import PsiParty, PsiStateError
from fedscore.vertical.roles import Reveal, Role

DOMAIN = PsiDomain("run-0001", "joint_risk_control")
REGIONS = ("110105", "310104", "440305", "510107", "330106", "420111")


def resident_ids(count: int, seed: int) -> list[str]:
    """Distinct valid 18-character resident IDs, in random order."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        first17 = (
            f"{rng.choice(REGIONS)}{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}"
            f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        found.add(first17 + resident_id_check_char(first17))
    return sorted(found, key=lambda _: rng.random())


def overlapping(n_a: int, n_b: int, shared: int, seed: int) -> tuple[list[str], list[str]]:
    pool = resident_ids(n_a + n_b - shared, seed)
    a, b = pool[:n_a], pool[n_a - shared :]
    random.Random(seed + 1).shuffle(b)
    return a, b


def reload(party: PsiParty) -> PsiParty:
    """What the next step's fresh process sees."""
    return PsiParty.from_bytes(party.to_bytes())


def run_psi(a_ids, b_ids, domain=DOMAIN, reveal=Reveal.BOTH, relay=lambda m: m, a_rows=None):
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, domain, a_ids, a_rows, reveal)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, domain, b_ids, reveal=reveal)
    party_a, party_b = reload(party_a), reload(party_b)
    answer_a = party_a.answer(relay(set_b))
    answer_b = party_b.answer(relay(set_a))
    party_a, party_b = reload(party_a), reload(party_b)
    result_a = party_a.finish(relay(answer_b))
    result_b = party_b.finish(relay(answer_a)) if answer_a is not None else None
    return result_a, result_b


def keys_by_id(ids, result):
    return {ids[row]: key for row, key in zip(result.rows, result.join_keys, strict=True)}


@pytest.fixture(scope="module")
def realistic():
    a, b = overlapping(1500, 1200, 700, seed=7)
    return a, b, run_psi(a, b)


def test_the_intersection_is_exact_and_both_parties_hold_the_same_join_keys(realistic):
    a, b, (result_a, result_b) = realistic
    expected = set(a) & set(b)
    assert {a[row] for row in result_a.rows} == expected
    assert {b[row] for row in result_b.rows} == expected
    assert result_a.intersection_size == result_b.intersection_size == 700
    assert list(result_a.rows) == sorted(result_a.rows)
    assert keys_by_id(a, result_a) == keys_by_id(b, result_b)
    assert len(set(result_a.join_keys)) == 700
    assert all(len(key) == 32 for key in result_a.join_keys)
    assert (result_a.own_size, result_a.peer_size) == (1500, 1200)
    assert (result_b.own_size, result_b.peer_size) == (1200, 1500)
    assert result_a.commitment == result_b.commitment == commitment(result_a.join_keys)


@pytest.mark.parametrize("shared", [0, 1, 150])
def test_random_identifiers_against_python_sets(shared):
    rng = random.Random(shared)
    pool = [f"customer-{rng.getrandbits(64):x}" for _ in range(400 - shared)]
    a, b = pool[:200], pool[200 - shared :]
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a, normalize=str.strip)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b, normalize=str.strip)
    answer_a, answer_b = party_a.answer(set_b), party_b.answer(set_a)
    assert answer_a is not None
    result_a, result_b = party_a.finish(answer_b), party_b.finish(answer_a)
    assert {a[row] for row in result_a.rows} == set(a) & set(b)
    assert {b[row] for row in result_b.rows} == set(a) & set(b)
    assert result_a.commitment == result_b.commitment


def test_join_keys_differ_across_runs_and_domains():
    a, b = overlapping(60, 60, 40, seed=3)
    first = run_psi(a, b)[0]
    again = run_psi(a, b)[0]
    other = run_psi(a, b, domain=PsiDomain("run-0002", DOMAIN.task))[0]
    assert first.rows == again.rows == other.rows
    assert not set(first.join_keys) & set(again.join_keys)
    assert not set(first.join_keys) & set(other.join_keys)
    assert first.commitment != again.commitment
    assert hash_to_group(DOMAIN.to_bytes(), a[:5]) != hash_to_group(
        PsiDomain("run-0002", DOMAIN.task).to_bytes(), a[:5]
    )


def test_label_holder_mode_tells_the_feature_holder_only_the_size():
    a, b = overlapping(80, 50, 20, seed=5)
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a, reveal=Reveal.LABEL_HOLDER)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b, reveal=Reveal.LABEL_HOLDER)
    assert party_a.answer(set_b) is None
    answer_b = party_b.answer(set_a)
    assert answer_b is not None
    party_b = reload(party_b)
    assert party_b.peer_size == 80 and not party_b.learns_intersection
    with pytest.raises(PsiStateError, match="learns only the size"):
        party_b.finish(answer_b)
    result_a = reload(party_a).finish(answer_b)
    assert {a[row] for row in result_a.rows} == set(a) & set(b)


def test_only_the_consented_identifiers_take_part():
    a, b = overlapping(100, 100, 100, seed=11)
    consented = [row for row in range(100) if row % 3 != 0]
    result_a, result_b = run_psi([a[row] for row in consented], b, a_rows=consented)
    assert set(result_a.rows) == set(consented)
    assert {b[row] for row in result_b.rows} == {a[row] for row in consented}
    assert result_a.own_size == result_b.peer_size == len(consented)


def test_spellings_of_one_person_collapse_to_the_first_row():
    ids = resident_ids(3, seed=2)
    person = ids[0]
    full_width = person.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    spaced = f" {person[:6]} {person[6:14]}-{person[14:].lower()} "
    a = [person, ids[1], full_width, "not an id", spaced, None, ids[2]]
    result_a, _ = run_psi(a, [person, ids[2]])
    assert result_a.rows == (0, 6)
    assert (result_a.duplicates, result_a.invalid, result_a.own_size) == (2, 2, 3)


def test_resident_id_normalization():
    person = resident_ids(1, seed=4)[0]
    assert normalize_resident_id(person.lower()) == person
    assert normalize_resident_id(f"  {person[:6]}-{person[6:14]} {person[14:]}\u3000") == person
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in person)
    assert normalize_resident_id(full_width) == person
    legacy = "110105491231002"  # 15 digits: born 1949-12-31
    assert normalize_resident_id(legacy) == "11010519491231002X"
    assert normalize_resident_id(person[:-1] + ("0" if person[-1] != "0" else "1")) is None
    assert normalize_resident_id("") is None
    assert normalize_resident_id(12345) is None  # type: ignore[arg-type]


def test_nothing_but_ciphertext_crosses_the_relay(tmp_path):
    a, b = overlapping(120, 90, 50, seed=13)
    a_stored = [x.lower() if i % 2 else f" {x[:6]} {x[6:]} " for i, x in enumerate(a)]
    signers = {name: SigningKey.create(tmp_path / f"{name}.pem") for name in ("bank", "fac")}
    keys = {name: signer.public_key for name, signer in signers.items()}
    wire: list[bytes] = []

    def relay(message: bytes) -> bytes:
        wire.append(bytes(message))
        return message

    bank = Channel.create(
        tmp_path / "bank" / "channel", DOMAIN.run_id, "bank", "fac", signers["bank"]
    )
    fac = Channel.create(tmp_path / "fac" / "channel", DOMAIN.run_id, "fac", "bank", signers["fac"])
    bank.accept(relay(fac.offer), keys)
    fac.accept(relay(bank.offer), keys)
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a_stored)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b)
    answer_a = party_a.answer(fac.open("psi/set", relay(bank.seal("psi/set", set_b))))
    answer_b = party_b.answer(bank.open("psi/set", relay(fac.seal("psi/set", set_a))))
    assert answer_a is not None and answer_b is not None
    result_a = party_a.finish(fac.open("psi/answer", relay(bank.seal("psi/answer", answer_b))))
    result_b = party_b.finish(bank.open("psi/answer", relay(fac.seal("psi/answer", answer_a))))
    assert {a[row] for row in result_a.rows} == set(a) & set(b) == {b[r] for r in result_b.rows}
    assert len(wire) == 6

    everything = b"\n".join(wire)
    domain = DOMAIN.to_bytes()
    points = split_points(hash_to_group(domain, sorted(set(a) | set(b))))
    needles: list[bytes] = [*points, set_a[:32], set_b[:32], answer_a[:32], answer_b[:32]]
    for identifier in {*a, *a_stored, *b}:
        raw = identifier.encode("utf-8")
        needles.append(raw)
        for digest in (
            hashlib.sha256(raw).digest(),
            hashlib.sha512(raw).digest(),
            hashlib.sha512(len(domain).to_bytes(2, "big") + domain + raw).digest(),
        ):
            needles += [digest, digest[:16], digest.hex().encode(), digest.hex()[:32].encode()]
    needles += [point.hex().encode() for point in points]
    found = [needle for needle in needles if needle in everything]
    assert not found, f"{len(found)} plaintext values crossed the relay"


def test_a_hostile_stage_one_set_is_refused_by_position_never_by_value():
    a, b = overlapping(40, 40, 10, seed=17)
    party_a, _ = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a)
    _, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b)
    bad = b"\xff" * 32
    cases = {
        set_b[:-1]: "not a whole number",
        set_b[: 5 * 32] + bad + set_b[6 * 32 :]: "'point 5' is not a valid ristretto255 point",
        set_b[: 7 * 32] + bytes(32) + set_b[8 * 32 :]: "'point 7' is not a valid",
        set_b + set_b[3 * 32 : 4 * 32]: "'point 40' repeats an earlier point",
    }
    for message, problem in cases.items():
        with pytest.raises(PeerMessageError, match=problem) as caught:
            reload(party_a).answer(message)
        assert "PSI set from the feature holder" in str(caught.value)
        assert bad.hex() not in str(caught.value) and set_b[:32].hex() not in str(caught.value)


def test_a_hostile_answer_is_refused():
    a, b = overlapping(30, 30, 10, seed=19)
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b)
    with pytest.raises(PsiStateError, match="answer the peer's set first"):
        party_a.finish(set_a)
    party_a.answer(set_b)
    answer_b = party_b.answer(set_a)
    assert answer_b is not None
    problems = {
        answer_b[:-32]: "has 29, this party sent 30",
        answer_b + answer_b[:32]: "has 31, this party sent 30",
        answer_b[:-3]: "not a whole number",
        answer_b[:64] + b"\xee" * 32 + answer_b[96:]: "'point 2' is not a valid",
        answer_b[:32] + answer_b[:-32]: "'point 1' repeats",
    }
    for message, problem in problems.items():
        with pytest.raises(PeerMessageError, match=problem):
            reload(party_a).finish(message)
    assert party_a.finish(answer_b).intersection_size == 10


def test_a_party_answers_one_set_only():
    a, b = overlapping(30, 30, 10, seed=23)
    party_a, _ = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a)
    _, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b)
    _, probe = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, resident_ids(30, seed=99))
    first = party_a.answer(set_b)
    assert reload(party_a).answer(set_b) == first  # a retried step
    with pytest.raises(PsiStateError, match="already answered another set"):
        reload(party_a).answer(probe)


def test_the_state_file_is_owner_only_and_checked(tmp_path):
    party, _ = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, resident_ids(20, seed=29))
    path = party.save(tmp_path / "psi" / "state.bin")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert PsiParty.load(path).to_bytes() == party.to_bytes()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises(PsiStateError, match="damaged"):
        PsiParty.from_bytes(bytes(data))
    path.chmod(0o644)
    with pytest.raises(PsiStateError, match="readable by others"):
        PsiParty.load(path)
    with pytest.raises(PsiStateError, match="cannot read"):
        PsiParty.load(tmp_path / "missing")


def test_a_step_runs_in_a_new_process(tmp_path):
    a, b = overlapping(50, 40, 15, seed=31)
    party_a, set_a = PsiParty.start(Role.LABEL_HOLDER, DOMAIN, a)
    party_b, set_b = PsiParty.start(Role.FEATURE_HOLDER, DOMAIN, b)
    state = party_a.save(tmp_path / "a" / "state.bin")
    (tmp_path / "set_b").write_bytes(set_b)
    step = textwrap.dedent(
        f"""
        from pathlib import Path
        from fedscore.vertical.psi.protocol import PsiParty
        folder = Path({str(tmp_path)!r})
        party = PsiParty.load(folder / "a" / "state.bin")
        (folder / "answer_a").write_bytes(party.answer((folder / "set_b").read_bytes()))
        party.save(folder / "a" / "state.bin")
        """
    )
    subprocess.run([sys.executable, "-c", step], check=True, timeout=60)
    answer_b = party_b.answer(set_a)
    assert answer_b is not None
    result_a = PsiParty.load(state).finish(answer_b)
    result_b = party_b.finish((tmp_path / "answer_a").read_bytes())
    assert {a[row] for row in result_a.rows} == set(a) & set(b)
    assert result_a.commitment == result_b.commitment


def test_group_operations():
    assert not group._LIBRARY.exists()  # rbcl's temporary copy of libsodium is not left
    scalar_a, scalar_b = new_secret_scalar(), new_secret_scalar()
    assert scalar_a != scalar_b and is_valid_scalar(scalar_a)
    assert not is_valid_scalar(bytes(32)) and not is_valid_scalar(b"\xff" * 32)
    points = hash_to_group(b"domain", [str(i) for i in range(50)])
    assert hash_to_group(b"domain", [str(i) for i in range(50)], workers=3) == points
    assert validate_points(points, "test") == 50
    ab = blind(blind(points, scalar_a, "test"), scalar_b, "test", workers=2)
    assert ab == blind(blind(points, scalar_b, "test"), scalar_a, "test")
    with pytest.raises(ValueError, match="secret scalar"):
        blind(points, bytes(32), "test")
    with pytest.raises(PeerMessageError, match="'point 3'"):
        validate_points(points[:96] + bytes(32) + points[128:], "test", workers=2)


def test_empty_sets_give_an_empty_intersection():
    result_a, result_b = run_psi([], resident_ids(5, seed=37))
    assert result_a.intersection_size == result_b.intersection_size == 0
    assert result_a.commitment == result_b.commitment == hashlib.sha256(b"").digest()


def test_a_domain_is_checked():
    with pytest.raises(ValueError, match="run_id"):
        PsiDomain("", "task")
    with pytest.raises(ValueError, match="task"):
        PsiDomain("run", "t" * 256)
    assert PsiDomain("ab", "c").to_bytes() != PsiDomain("a", "bc").to_bytes()


def test_rows_must_match_the_identifiers():
    with pytest.raises(ValueError, match="2 rows for 3 identifiers"):
        PsiParty.start(Role.LABEL_HOLDER, DOMAIN, resident_ids(3, seed=41), rows=[0, 1])
