"""Privacy accounting: persisted, restorable exactly, composed across restarts, calibrated."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from opacus.accountants import RDPAccountant

from fedscore.clients.journal import AccountantKey, NodeJournal, RoundRecord
from fedscore.privacy.accounting import PartyAccountant, calibrate_noise
from fedscore.privacy.accounting.accountant import RDP_ORDERS

KEY = AccountantKey("large_bank", "default_risk", "v1")
NOISE, RATE, STEPS, DELTA = 1.1, 0.05, 40, 1e-5


def _trained(run_round: int, accountant: PartyAccountant) -> RoundRecord:
    report = accountant.report(DELTA)
    return RoundRecord(
        "run-1",
        run_round,
        "trained",
        "",
        NOISE,
        RATE,
        STEPS,
        1.0,
        DELTA,
        report.rdp,
        report.prv,
        10.0,
    )


def _epsilon_in_new_process(store_path) -> dict[str, float]:
    code = (
        "import json, sys\n"
        "from fedscore.clients.journal import NodeJournal, AccountantKey\n"
        "acc = NodeJournal(sys.argv[1]).load(AccountantKey('large_bank','default_risk','v1'))\n"
        f"r = acc.report({DELTA})\n"
        "print(json.dumps({'rdp': r.rdp, 'prv': r.prv, 'steps': acc.steps}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store_path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


@pytest.mark.slow  # a new Python process
def test_restored_accountant_reproduces_epsilon_exactly_in_a_new_process(tmp_path):
    store = NodeJournal(tmp_path / "privacy.sqlite")
    accountant = store.load(KEY)
    accountant.step(NOISE, RATE, STEPS)
    store.commit_round(KEY, accountant, _trained(1, accountant))
    before = accountant.report(DELTA)
    after = _epsilon_in_new_process(tmp_path / "privacy.sqlite")
    assert after == {"rdp": before.rdp, "prv": before.prv, "steps": STEPS}


def test_one_more_round_after_restore_equals_an_uninterrupted_accountant(tmp_path):
    store = NodeJournal(tmp_path / "privacy.sqlite")
    first = store.load(KEY)
    first.step(NOISE, RATE, STEPS)
    store.commit_round(KEY, first, _trained(1, first))
    restored = NodeJournal(tmp_path / "privacy.sqlite").load(KEY)  # as after a restart
    restored.step(NOISE, RATE, STEPS)

    uninterrupted = RDPAccountant()
    for _ in range(2 * STEPS):
        uninterrupted.step(noise_multiplier=NOISE, sample_rate=RATE)
    expected = uninterrupted.get_epsilon(delta=DELTA, alphas=list(RDP_ORDERS))
    assert restored.epsilon(DELTA, "rdp") == expected
    assert restored.epsilon(DELTA, "rdp") > first.epsilon(DELTA, "rdp")


def test_refused_round_is_recorded_without_touching_the_accountant(tmp_path):
    store = NodeJournal(tmp_path / "privacy.sqlite")
    accountant = store.load(KEY)
    accountant.step(NOISE, RATE, STEPS)
    store.commit_round(KEY, accountant, _trained(1, accountant))
    refused = RoundRecord(
        "run-1", 2, "refused", "budget", None, None, None, 1.0, DELTA, None, None, 10.0
    )
    store.commit_round(KEY, PartyAccountant(), refused)
    assert store.load(KEY).steps == STEPS
    assert [r.status for r in store.rounds(KEY)] == ["trained", "refused"]


def test_state_file_is_owner_only(tmp_path):
    NodeJournal(tmp_path / "privacy.sqlite")
    assert os.stat(tmp_path / "privacy.sqlite").st_mode & 0o077 == 0


@pytest.mark.parametrize("mechanism", ["rdp", "prv"])
def test_calibration_meets_the_target_for_the_whole_run(mechanism):
    steps = 10 * 16  # rounds × steps per round
    noise = calibrate_noise(1.0, DELTA, 0.06, steps, mechanism)
    accountant = PartyAccountant()
    accountant.step(noise, 0.06, steps)
    assert 0.98 <= accountant.epsilon(DELTA, mechanism) <= 1.0


def test_prv_is_tighter_than_rdp_and_both_are_labelled():
    accountant = PartyAccountant()
    accountant.step(NOISE, RATE, 400)
    report = accountant.report(DELTA)
    assert report.prv is not None and report.prv < report.rdp
    assert report.by("rdp") == report.rdp and report.by("prv") == report.prv


def test_prv_failure_falls_back_to_rdp_and_says_so(monkeypatch):
    accountant = PartyAccountant()
    accountant.step(NOISE, RATE, STEPS)
    real = PartyAccountant.epsilon

    def failing(self, delta, mechanism):
        if mechanism == "prv":
            raise ValueError("discretisation failed")
        return real(self, delta, mechanism)

    monkeypatch.setattr(PartyAccountant, "epsilon", failing)
    report = accountant.report(DELTA)
    assert report.prv is None and "PRV accountant failed" in report.note
    assert report.by("prv") == report.rdp


def test_non_private_steps_make_epsilon_infinite():
    accountant = PartyAccountant()
    accountant.step(NOISE, RATE, STEPS)
    accountant.non_private_steps = 5
    report = accountant.report(DELTA)
    assert math.isinf(report.rdp) and "no DP guarantee" in report.note


def test_history_merges_identical_steps_like_opacus():
    accountant = PartyAccountant()
    accountant.step(NOISE, RATE)
    accountant.step(NOISE, RATE, 3)
    accountant.step(2.0, RATE)
    assert accountant.history == [(NOISE, RATE, 4), (2.0, RATE, 1)]
