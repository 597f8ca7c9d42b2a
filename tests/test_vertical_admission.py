"""A vertical node takes part only in runs it accepts, and bad input costs nothing.

The node's real handler (`node_app.answer_message`) is given what a hostile relay or a
careless owner could send: unsigned or foreign-signed terms, terms outside the node's
config or budgets, stages out of order or for the other role, a broken table. Each is
refused with a reason that names what is wrong (never a customer's value), and leaves no
run folder and no ledger entry behind.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from vertical_support import ask

from fedscore.core.errors import ConfigError
from fedscore.core.run_request import OwnerIdentity
from fedscore.core.signing import SigningKey
from fedscore.demo.vertical_consortium import VerticalConsortium, prepare_vertical_consortium
from fedscore.vertical.columns import BANK_COLUMNS, FACILITATOR_COLUMNS, JOINT_PURPOSE
from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.request import VerticalTerms, admit, sign_terms

RUN = "vertical-admission-1"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> VerticalConsortium:
    return prepare_vertical_consortium(tmp_path_factory.mktemp("pair"), size=300)


def _nothing_written(config_path: Path, run: str = RUN) -> None:
    config = VerticalNodeConfig.from_toml(config_path)
    assert not config.run_dir(run).exists()
    if config.journal_path.exists():
        with sqlite3.connect(config.journal_path) as db:
            assert db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 0


def _admit(pair: VerticalConsortium, config_path: Path, signed) -> StageReply:
    return ask(config_path, StageRequest(Stage.ADMIT, RUN, request=signed.encode()))


def test_a_run_the_node_accepts_is_admitted(pair, tmp_path):
    signed = pair.signed_run("vertical-admitted", {"epochs": 2})
    request = StageRequest(Stage.ADMIT, "vertical-admitted", request=signed.encode())
    reply = ask(pair.bank, request)
    assert reply.outcome is Outcome.DONE and reply.sealed  # the signed channel offer
    assert ask(pair.bank, request).sealed == reply.sealed  # asked again: the same offer


def test_a_request_signed_by_someone_not_listed_is_declined(pair, tmp_path):
    stranger = OwnerIdentity("model_owner", tmp_path / "stranger.pem")
    SigningKey.load_or_create(stranger.key)
    forged = dataclasses.replace(pair, owner=stranger).signed_run(RUN, {"epochs": 2})
    for config in pair.node_configs:
        reply = _admit(pair, config, forged)
        assert reply.outcome is Outcome.DECLINED and "not a model owner's key" in reply.reason
        _nothing_written(config)


def test_a_request_altered_after_signing_is_declined(pair):
    signed = pair.signed_run(RUN, {"epochs": 2})
    tampered = signed.encode().replace('"epochs":2', '"epochs":200')
    assert tampered != signed.encode()
    reply = ask(pair.bank, StageRequest(Stage.ADMIT, RUN, request=tampered))
    assert reply.outcome is Outcome.DECLINED
    _nothing_written(pair.bank)


@pytest.mark.parametrize(
    ("training", "terms", "expected"),
    [
        ({"bank_epsilon": 6.0}, {}, "above max_record_epsilon 5"),
        ({"label_epsilon": 9.0}, {}, "above max_label_epsilon 8"),
        ({"private": False}, {}, "the run is not private"),
        ({"epochs": 2}, {"reveal": "label_holder"}, "intersection mode 'label_holder'"),
        ({"epochs": 0}, {}, "epochs"),
    ],
)
def test_terms_outside_the_nodes_policy_are_declined(pair, training, terms, expected):
    signed = pair.signed_run(RUN, training, **terms)
    reply = _admit(pair, pair.bank, signed)
    assert reply.outcome is Outcome.DECLINED and expected in reply.reason
    _nothing_written(pair.bank)


def test_a_deployed_node_declines_a_request_for_another_release_than_it_runs(pair):
    """Deployed, the node's task runner verified the release this message came with: the
    signed request must name exactly it."""
    running = "ab" * 32
    config = dataclasses.replace(VerticalNodeConfig.from_toml(pair.bank), verified_app=running)
    signed = sign_terms(_terms(), RUN, pair.owner, app_sha256="cd" * 32)
    with pytest.raises(ConfigError, match=f"names sha256:{'cd' * 32}, but this task runs"):
        admit(config, signed)
    assert admit(config, sign_terms(_terms(), RUN, pair.owner, app_sha256=running))


def _terms(**changes: object) -> VerticalTerms:
    base = {
        "label_holder": "bank",
        "feature_holder": "loan_facilitator",
        "purpose": JOINT_PURPOSE,
        "columns": {"bank": list(BANK_COLUMNS), "loan_facilitator": list(FACILITATOR_COLUMNS)},
        "training": {"epochs": 2},
    }
    return VerticalTerms.model_validate({**base, **changes}, strict=False)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"columns": {"bank": ["LIMIT_BAL"], "loan_facilitator": ["PAY_0"]}}, "columns"),
        ({"label_holder": "loan_facilitator", "feature_holder": "bank"}, "makes bank a"),
        ({"feature_holder": "city_bank"}, "pairs bank with city_bank"),
        ({"purpose": "marketing"}, "purpose 'marketing'"),
    ],
)
def test_terms_with_other_columns_roles_peers_or_purpose_are_declined(pair, changes, expected):
    signed = sign_terms(_terms(**changes), RUN, pair.owner)
    reply = _admit(pair, pair.bank, signed)
    assert reply.outcome is Outcome.DECLINED and expected in reply.reason
    _nothing_written(pair.bank)


def test_a_stage_for_the_other_role_is_refused(pair):
    reply = ask(pair.facilitator, StageRequest(Stage.STEP, RUN, step=0))
    assert reply.outcome is Outcome.FAILED and "not for it" in reply.reason
    reply = ask(pair.bank, StageRequest(Stage.FORWARD, RUN, step=0))
    assert reply.outcome is Outcome.FAILED and "not for it" in reply.reason


def test_a_stage_for_a_run_never_admitted_fails_and_writes_nothing(pair):
    for stage in (Stage.PSI_START, Stage.PSI_ANSWER, Stage.PSI_FINISH, Stage.SETUP, Stage.EVALUATE):
        reply = ask(pair.bank, StageRequest(stage, "unknown-run", sealed=b"\x00" * 64))
        assert reply.outcome is Outcome.FAILED
    _nothing_written(pair.bank, "unknown-run")


def test_a_hostile_run_id_cannot_name_a_path(pair):
    reply = ask(pair.bank, StageRequest(Stage.SETUP, "../../etc"))
    assert reply.outcome is Outcome.FAILED and "run id must be" in reply.reason


def _broken_copy(pair: VerticalConsortium, tmp_path: Path, change) -> Path:
    config = VerticalNodeConfig.from_toml(pair.bank)
    table = pd.read_csv(config.table, dtype=str)
    change(table)
    broken = tmp_path / "customers.csv"
    table.to_csv(broken, index=False)
    text = pair.bank.read_text().replace('table = "data/customers.csv"', f'table = "{broken}"')
    copy = pair.bank.with_name("vertical-broken.toml")
    copy.write_text(text)
    return copy


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.loc.__setitem__((4, "default.payment.next.month"), "2"), "row 5"),
        (lambda t: t.loc.__setitem__((7, "AGE"), "forty"), "column 'AGE'"),
        (lambda t: t.loc.__setitem__((9, "MARRIAGE"), "7"), "unknown category"),
        (lambda t: t.pop("LIMIT_BAL"), "LIMIT_BAL"),
        (lambda t: t.loc.__setitem__((2, "id_number"), "110105194912310021"), "resident ID"),
    ],
)
def test_a_broken_table_fails_at_admission_naming_where_not_what(pair, tmp_path, change, expected):
    copy = _broken_copy(pair, tmp_path, change)
    table = pd.read_csv(VerticalNodeConfig.from_toml(pair.bank).table, dtype=str)
    signed = pair.signed_run(RUN, {"epochs": 2})
    reply = _admit(pair, copy, signed)
    assert reply.outcome is Outcome.FAILED and expected in reply.reason
    assert "customers.csv" in reply.reason
    assert not [v for v in table["id_number"].head(20) if v in reply.reason]
    _nothing_written(copy)
