"""A node trains only for runs a listed model owner signed, within its policy and caps.

Each test attacks the node's admission as a hostile coordinator or owner would: no
signature, a foreign key, a tampered or expired request, settings outside the node's
policy, a run id re-used with other terms, days and months over the caps. Every
refusal spends nothing, reads no data and is recorded at the node with its reason.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import tomli_w
from flwr.app import ConfigRecord
from round_support import initial_arrays

from fedscore.clients.admission import RunDeclined, admit
from fedscore.clients.admission_store import AdmissionStore
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import evaluate_round, train_round
from fedscore.core import protocol
from fedscore.core.protocol import RoundRequest
from fedscore.core.run_request import (
    RUN_REQUEST_KEY,
    CoordinatorOptions,
    RunRequest,
    SignedRunRequest,
    sign_run_request,
)
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey

APP = "ab" * 32


@pytest.fixture()
def owner(tmp_path) -> SigningKey:
    return SigningKey.create(tmp_path / "owner" / "ed25519.pem")


def _node(tmp_path, make_node, party_table, owner: SigningKey, **policy) -> NodeConfig:
    config = make_node(tmp_path / "bank", "bank", party_table, max_epsilon=5)
    section = {"model_owners": {"alice": owner.public_hex}, **policy}
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + tomli_w.dumps({"policy": section}))
    return NodeConfig.from_toml(config)


def _signed(
    schema,
    key: SigningKey,
    run: RunConfig,
    run_id: str = "run-a",
    owner: str = "alice",
    app_sha256: str | None = None,
    issued: datetime | None = None,
    hours: float = 1.0,
) -> SignedRunRequest:
    issued = (issued or datetime.now(UTC)).replace(microsecond=0)
    request = RunRequest(
        run_id=run_id,
        owner=owner,
        issued_at=issued,
        expires_at=issued + timedelta(hours=hours),
        app_sha256=app_sha256,
        task=schema.name,
        schema_sha256=schema.sha256,
        parties=3,
        run=run.as_dict(),
        coordinator=CoordinatorOptions(),
    )
    return sign_run_request(request, key)


def _round(schema, run: RunConfig, signed: SignedRunRequest | str | None, run_id="run-a"):
    config = ConfigRecord(
        {
            **run.to_flower(),
            protocol.RUN_ID: run_id,
            protocol.SERVER_ROUND: 1,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
        }
    )
    if signed is not None:
        config[RUN_REQUEST_KEY] = signed if isinstance(signed, str) else signed.encode()
    return config


def _request(schema, run: RunConfig, signed: SignedRunRequest | None, run_id: str) -> RoundRequest:
    return RoundRequest.from_record(_round(schema, run, signed, run_id))


def _ledger(node: NodeConfig) -> list[dict]:
    if not node.accountant_db.exists():
        return []
    with sqlite3.connect(node.accountant_db) as db:
        try:
            rows = db.execute("SELECT content FROM ledger ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []
    return [json.loads(row[0]) for row in rows]


RUN = RunConfig(rounds=1, batch_size=256, delta=1e-4, secure_aggregation=True)


def test_a_signed_run_trains_and_its_ledger_entry_names_the_owner_and_request(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    signed = _signed(schema, owner, RUN)
    reply = train_round(node, initial_arrays(schema, RUN), _round(schema, RUN, signed))
    assert reply.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    (entry,) = _ledger(node)
    assert entry["authorization"] == {
        "owner": "alice",
        "owner_key": owner.public_hex,
        "run_request_sha256": signed.sha256,
    }


def _declined(node, schema, run, config, app_sha256=None) -> str:
    reply = train_round(node, initial_arrays(schema, run), config, app_sha256=app_sha256)
    party = reply.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.DECLINED, party[protocol.REASON]
    assert protocol.ARRAYS not in reply.array_records
    assert _ledger(node) == [], "a declined run must spend nothing"
    assert not node.report_path(str(config[protocol.RUN_ID])).exists(), "no data was read"
    return str(party[protocol.REASON])


def test_unsigned_forged_tampered_and_expired_requests_are_declined(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    assert "unsigned run request" in _declined(node, schema, RUN, _round(schema, RUN, None))
    stranger = SigningKey.create(tmp_path / "stranger.pem")
    forged = _signed(schema, stranger, RUN)
    assert "not a model owner's key listed here" in _declined(
        node, schema, RUN, _round(schema, RUN, forged)
    )
    # A hostile coordinator raises epsilon in the signed text itself: the signature breaks.
    text = json.loads(_signed(schema, owner, RUN).encode())
    text["request"]["run"]["epsilon"] = 8.0
    tampered = json.dumps(text)
    more = RUN.replace(epsilon=8.0)
    assert "signature does not verify" in _declined(
        node, schema, more, _round(schema, more, tampered)
    )
    stale = _signed(schema, owner, RUN, issued=datetime.now(UTC) - timedelta(hours=3))
    assert "expired" in _declined(node, schema, RUN, _round(schema, RUN, stale))
    assert "malformed run request" in _declined(
        node, schema, RUN, _round(schema, RUN, '{"request": 1}')
    )
    recorded = AdmissionStore(node.accountant_db).declined()
    assert len(recorded) == 5 and all(reason for *_, reason in recorded)


def test_the_coordinator_cannot_change_the_signed_settings(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    signed = _signed(schema, owner, RUN)
    other = RUN.replace(epsilon=3.0)
    reason = _declined(node, schema, other, _round(schema, other, signed))
    assert "differ from the signed request in ['epsilon']" in reason


@pytest.mark.parametrize(
    ("policy", "run", "expected"),
    [
        ({"max_epsilon_per_run": 0.5}, RUN, "above this node's max_epsilon_per_run 0.5"),
        ({"strategies": ["fedavg"]}, RUN.replace(strategy="fedprox", proximal_mu=0.1), "fedprox"),
        ({"models": ["lr"]}, RUN.replace(model="mlp"), "model 'mlp' is not allowed"),
        ({"require_secure_aggregation": True}, RUN.replace(secure_aggregation=False), "SecAgg"),
        ({"min_parties": 3}, RUN, "below this node's minimum 3"),
        ({"tasks": ["behaviour_score"]}, RUN, "is not one this node trains for"),
        ({"purposes": ["marketing"]}, RUN, "purpose 'credit_risk_scoring' is not one"),
        ({}, RUN.replace(private=False), "non-private training is disabled"),
    ],
)
def test_runs_outside_the_policy_are_declined_before_any_spend(
    tmp_path, make_node, party_table, schema, owner, policy, run, expected
):
    node = _node(tmp_path, make_node, party_table, owner, **policy)
    signed = _signed(schema, owner, run)
    assert expected in _declined(node, schema, run, _round(schema, run, signed))


def test_a_run_id_keeps_its_terms_and_caps_count_each_run_once(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner, max_epsilon_per_day=1.5)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    first = _signed(schema, owner, RUN, "run-1", issued=now)
    admitted = admit(node, schema, _request(schema, RUN, first, "run-1"), None, now)
    assert admitted.request_sha256 == first.sha256
    # Round 2 of the same run, and a re-signed request for it: no new charge on the cap.
    later = now + timedelta(minutes=30)
    again = _signed(schema, owner, RUN, "run-1", issued=later)
    admit(node, schema, _request(schema, RUN, again, "run-1"), None, later)
    # The same run id with other terms is refused.
    other = RUN.replace(rounds=2)
    changed = _signed(schema, owner, other, "run-1", issued=now)
    with pytest.raises(RunDeclined, match="accepted with other terms"):
        admit(
            node,
            schema,
            _request(schema, other, changed, "run-1"),
            None,
            now,
        )
    # A second run the same day would pass the daily cap of 1.5.
    second = _signed(schema, owner, RUN, "run-2", issued=now)
    with pytest.raises(RunDeclined, match=r"max_epsilon_per_day 1\.5"):
        admit(node, schema, _request(schema, RUN, second, "run-2"), None, now)
    # The next day it is accepted.
    tomorrow = now + timedelta(days=1)
    fresh = _signed(schema, owner, RUN, "run-2", issued=tomorrow)
    admit(node, schema, _request(schema, RUN, fresh, "run-2"), None, tomorrow)
    assert [terms.run_id for terms in AdmissionStore(node.accountant_db).accepted()] == [
        "run-1",
        "run-2",
    ]


def test_the_monthly_cap_spans_days(tmp_path, make_node, party_table, schema, owner):
    node = _node(tmp_path, make_node, party_table, owner, max_epsilon_per_month=2.5)
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    for day in range(2):
        moment = start + timedelta(days=day)
        signed = _signed(schema, owner, RUN, f"run-{day}", issued=moment)
        admit(
            node,
            schema,
            _request(schema, RUN, signed, f"run-{day}"),
            None,
            moment,
        )
    late = start + timedelta(days=20)
    third = _signed(schema, owner, RUN, "run-3", issued=late)
    with pytest.raises(RunDeclined, match=r"max_epsilon_per_month 2\.5"):
        admit(node, schema, _request(schema, RUN, third, "run-3"), None, late)


def test_a_deployed_node_needs_the_request_to_name_the_app_it_runs(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    signed = _signed(schema, owner, RUN, app_sha256="cd" * 32)
    reason = _declined(node, schema, RUN, _round(schema, RUN, signed), app_sha256=APP)
    assert f"this task runs sha256:{APP}" in reason
    # Without listed owners a deployed node still refuses unsigned runs.
    bare = NodeConfig.from_toml(make_node(tmp_path / "bare", "bare", party_table, max_epsilon=5))
    assert "unsigned" in _declined(bare, schema, RUN, _round(schema, RUN, None), APP)
    matching = _signed(schema, owner, RUN, app_sha256=APP)
    reply = train_round(
        node, initial_arrays(schema, RUN), _round(schema, RUN, matching), app_sha256=APP
    )
    assert reply.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED


def test_evaluation_is_declined_for_an_unsigned_run(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    reply = evaluate_round(node, initial_arrays(schema, RUN), _round(schema, RUN, None))
    party = reply.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.DECLINED
    assert reply.metric_records[protocol.METRICS][protocol.NUM_EXAMPLES] == 0


def test_a_run_id_that_could_name_a_folder_outside_the_state_is_refused(
    tmp_path, make_node, party_table, schema, owner
):
    node = _node(tmp_path, make_node, party_table, owner)
    config = _round(schema, RUN, None, run_id="../../outside")
    reply = train_round(node, initial_arrays(schema, RUN), config)
    party = reply.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.FAILED and "run id must be" in party[protocol.REASON]
    assert "outside" not in party[protocol.REASON]
    assert not (tmp_path / "outside").exists()
