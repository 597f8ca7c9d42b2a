"""Scoring with a vertical model: the facilitator's partial score over mutual TLS.

A small pair (3,000 people of the demo) is trained end to end with an in-process relay
(every stage answered by the nodes' own handler, in the relay's order; no Flower), the
bank trains its declared fallback, and the facilitator serves its half on 127.0.0.1 with
certificates of a real consortium CA. Then: the joint score is the run's own joint
model; every way the facilitator's half can go missing makes the bank answer from the
fallback and say why; the facilitator answers only the run's bank, and nothing but the
contribution; a book scored in batches equals the same customers scored one by one.
"""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from process_support import stop_tree

from fedscore.core.errors import ConfigError
from fedscore.core.metrics import score_metrics
from fedscore.demo.vertical_consortium import prepare_vertical_consortium
from fedscore.deployment.localhost.processes import free_port
from fedscore.deployment.pki import init_pki
from fedscore.vertical.journal import VerticalJournal
from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node.dispatch import answer
from fedscore.vertical.node.psi_stages import journal_of
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.scoring import joint_scorer
from fedscore.vertical.scoring.fallback import (
    USE,
    FallbackModel,
    fallback_path,
    load_fallback,
    train_fallback,
)
from fedscore.vertical.scoring.generated import vertical_scoring_pb2 as pb
from fedscore.vertical.scoring.generated import vertical_scoring_pb2_grpc
from fedscore.vertical.scoring.joint_scorer import (
    NOT_SHARED,
    REASONS,
    CustomerNotScorable,
    JointScorer,
)
from fedscore.vertical.scoring.partial_service import (
    SERVICE_NAME,
    PartialScoreServer,
    PartialScoreService,
    PartialServeSettings,
)
from fedscore.vertical.scoring.shared_rows import load_shared_rows
from fedscore.vertical.scoring.tls import TlsFiles, issue_party_certificate
from fedscore.vertical.training.settings import VerticalSettings

RUN = "scoring-run-1"
FALLBACK = "bank-only-1"
DEADLINE_MS = 500.0


def relay_in_process(bank: VerticalNodeConfig, facilitator: VerticalNodeConfig, signed) -> dict:
    """Every stage of a run in the relay's order, each node answering with its handler."""
    run = signed.request.run_id

    def ask(config, stage, sealed=b"", step=0, request=""):
        reply = answer(config, StageRequest(stage, run, step=step, sealed=sealed, request=request))
        assert reply.outcome is Outcome.DONE, reply.reason
        return reply

    def both(stage, sealed: dict[str, StageReply]) -> dict[str, StageReply]:
        return {
            "bank": ask(bank, stage, sealed["facilitator"].sealed),
            "facilitator": ask(facilitator, stage, sealed["bank"].sealed),
        }

    offers = {
        "bank": ask(bank, Stage.ADMIT, request=signed.encode()),
        "facilitator": ask(facilitator, Stage.ADMIT, request=signed.encode()),
    }
    answers = both(Stage.PSI_ANSWER, both(Stage.PSI_START, offers))
    both(Stage.PSI_FINISH, answers)
    steps = int(ask(bank, Stage.SETUP).facts["steps"])
    ask(facilitator, Stage.SETUP)
    gradients = b""
    for step in range(steps):
        contributions = ask(facilitator, Stage.FORWARD, gradients, step).sealed
        gradients = ask(bank, Stage.STEP, contributions, step).sealed
    ask(facilitator, Stage.FORWARD, gradients, steps)
    held_out = ask(facilitator, Stage.EVALUATE).sealed
    facts = ask(bank, Stage.EVALUATE, held_out).facts
    ask(bank, Stage.CLOSE)
    ask(facilitator, Stage.CLOSE)
    return facts


@dataclass
class Pair:
    root: Path
    bank: VerticalNodeConfig
    facilitator: VerticalNodeConfig
    bank_toml: Path
    facilitator_toml: Path
    test_facts: dict
    tls: dict[str, TlsFiles]
    fallback: FallbackModel
    service: PartialScoreService
    address: str

    def scorer(self, tls: str = "bank", address: str | None = None, **kwargs) -> JointScorer:
        settings = {"deadline_ms": DEADLINE_MS, **kwargs}
        return JointScorer(
            self.bank,
            RUN,
            address or self.address,
            self.tls[tls],
            fallback=self.fallback,
            **settings,
        )

    def stub(
        self, tls: str = "bank"
    ) -> tuple[grpc.Channel, vertical_scoring_pb2_grpc.PartialScoreStub]:
        options = [("grpc.ssl_target_name_override", self.facilitator.party)]
        channel = grpc.secure_channel(self.address, self.tls[tls].channel_credentials(), options)
        return channel, vertical_scoring_pb2_grpc.PartialScoreStub(channel)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("vertical-scoring")
    consortium = prepare_vertical_consortium(root, size=3000)
    bank = VerticalNodeConfig.from_toml(consortium.bank)
    facilitator = VerticalNodeConfig.from_toml(consortium.facilitator)
    facts = relay_in_process(bank, facilitator, consortium.signed_run(RUN, {"epochs": 10}))
    pki, rogue = root / "pki", root / "rogue-pki"
    init_pki(pki, ["127.0.0.1"])
    init_pki(rogue, ["127.0.0.1"])
    tls = {name: issue_party_certificate(pki, name) for name in (bank.party, facilitator.party)}
    tls["other_party"] = issue_party_certificate(pki, "other_party")
    forged = issue_party_certificate(rogue, bank.party)  # the bank's name, another CA
    tls["rogue"] = TlsFiles(tls["bank"].ca_certificate, forged.certificate, forged.private_key)
    train_fallback(bank, FALLBACK, VerticalSettings(epochs=10, bank_epsilon=1.0), noise_seed=7)
    service = PartialScoreService.from_run(facilitator, RUN)
    server = PartialScoreServer(
        service, PartialServeSettings("127.0.0.1", 0, tls[facilitator.party])
    )
    server.start()
    yield Pair(
        root,
        bank,
        facilitator,
        consortium.bank,
        consortium.facilitator,
        facts,
        tls,
        load_fallback(bank, FALLBACK),
        service,
        f"127.0.0.1:{server.port}",
    )
    server.stop()


def _bank_shared(pair: Pair) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The bank's shared customers: keys, held-out mask, labels (join-key order)."""
    shared = load_shared_rows(pair.bank, RUN)
    with np.load(pair.bank.run_dir(RUN) / "intersection.npz") as stored:
        test = dict(zip(map(bytes, stored["join_keys"]), stored["test"], strict=True))
    keys = [shared.table.customer_keys[row] for row in shared.rows]
    held_out = np.array([test[key] for key in shared.join_keys], dtype=bool)
    assert shared.table.labels is not None
    return keys, held_out, shared.table.labels[shared.rows]


def _not_shared_key(pair: Pair) -> str:
    shared = load_shared_rows(pair.bank, RUN)
    return next(
        key
        for row, key in enumerate(shared.table.customer_keys)
        if row not in set(shared.rows.tolist()) and key in shared.consented_keys
    )


def test_the_joint_score_is_the_runs_own_joint_model(pair):
    keys, held_out, labels = _bank_shared(pair)
    with pair.scorer() as scorer:
        assert scorer.wait_ready()
        scores = [scorer.score(key) for key in np.asarray(keys)[held_out]]
    assert not [s for s in scores if s.used_fallback]
    assert {s.facilitator_model for s in scores} == {pair.service.model_version}
    assert scores[0].bank_model.startswith(f"{RUN}:") and scores[0].reason == ""
    # The held-out customers scored through the service give the run's own test figures
    # (up to float32 rounding: the sub-models compute in float32, in other batches).
    metrics = score_metrics(labels[held_out], np.array([s.probability for s in scores]))
    assert len(scores) == pair.test_facts["rows"]
    assert metrics.auc == pytest.approx(pair.test_facts["auc"], abs=1e-6)
    assert metrics.log_loss == pytest.approx(pair.test_facts["log_loss"], abs=1e-6)


def test_a_customer_outside_the_intersection_gets_the_fallback(pair):
    key = _not_shared_key(pair)
    with pair.scorer() as scorer:
        score = scorer.score(key)
        with pytest.raises(CustomerNotScorable) as refused:
            scorer.score("B999999999")
    assert score.used_fallback and score.reason == NOT_SHARED
    assert score.bank_model == pair.fallback.version and score.facilitator_model == ""
    shared = load_shared_rows(pair.bank, RUN)
    row = shared.table.customer_keys.index(key)
    expected = pair.fallback.probabilities(shared.table.features[row : row + 1])[0]
    assert score.probability == pytest.approx(expected, abs=1e-15)
    assert "B999999999" not in str(refused.value)


def _fallback_of(scorer: JointScorer, key: str) -> joint_scorer.JointScore:
    started = time.monotonic()
    score = scorer.score(key)
    assert time.monotonic() - started < 2.0
    assert score.used_fallback and score.facilitator_model == ""
    assert 0.0 < score.probability < 1.0
    return score


def test_the_facilitator_down_means_the_fallback(pair):
    keys, _, _ = _bank_shared(pair)
    with pair.scorer(address=f"127.0.0.1:{free_port()}") as scorer:
        score = _fallback_of(scorer, keys[0])
    assert score.reason == REASONS[grpc.StatusCode.UNAVAILABLE]


class SlowService(PartialScoreService):
    """A facilitator that answers long after any deadline a bank would set."""

    def Contribution(self, request, context):
        time.sleep(2.0)
        return super().Contribution(request, context)


def test_a_facilitator_slower_than_the_deadline_means_the_fallback(pair):
    keys, _, _ = _bank_shared(pair)
    service = PartialScoreService.from_run(pair.facilitator, RUN)
    slow = SlowService(service.run_id, service.bank, service.model_version, service._contributions)
    server = PartialScoreServer(
        slow, PartialServeSettings("127.0.0.1", 0, pair.tls["loan_facilitator"])
    )
    server.start()
    try:
        with pair.scorer(address=f"127.0.0.1:{server.port}", deadline_ms=50) as scorer:
            assert scorer.wait_ready()
            started = time.monotonic()
            score = _fallback_of(scorer, keys[0])
            # The 50 ms deadline, not the facilitator's 2 s: with room for a busy machine.
            assert time.monotonic() - started < 1.0
    finally:
        server.stop()
    assert score.reason == REASONS[grpc.StatusCode.DEADLINE_EXCEEDED]


@pytest.mark.parametrize(
    ("certificate", "code"),
    [("rogue", grpc.StatusCode.UNAVAILABLE), ("other_party", grpc.StatusCode.PERMISSION_DENIED)],
    ids=["not-signed-by-the-consortium-ca", "ca-signed-but-another-party"],
)
def test_a_wrong_client_certificate_means_the_fallback(pair, certificate, code):
    keys, _, _ = _bank_shared(pair)
    with pair.scorer(tls=certificate) as scorer:
        assert _fallback_of(scorer, keys[0]).reason == REASONS[code]


def test_the_facilitator_refuses_a_client_that_is_not_the_bank(pair):
    join_key = load_shared_rows(pair.bank, RUN).join_keys[0]
    request = pb.ContributionRequest(run_id=RUN, join_key=join_key)
    for name, code in (
        ("other_party", grpc.StatusCode.PERMISSION_DENIED),
        ("rogue", grpc.StatusCode.UNAVAILABLE),
    ):
        channel, stub = pair.stub(name)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Contribution(request, timeout=5)
        channel.close()
        assert refused.value.code() is code, name
    channel, stub = pair.stub("bank")
    assert stub.Contribution(request, timeout=5).model_version == pair.service.model_version
    channel.close()


def test_plaintext_is_refused_and_a_plaintext_facilitator_is_not_used(pair):
    channel = grpc.insecure_channel(pair.address)
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(channel).result(timeout=1.5)
    channel.close()
    # An impostor on plaintext: the bank's TLS handshake fails, it answers from the fallback.
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(2))
    vertical_scoring_pb2_grpc.add_PartialScoreServicer_to_server(pair.service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    keys, _, _ = _bank_shared(pair)
    try:
        with pair.scorer(address=f"127.0.0.1:{port}") as scorer:
            assert _fallback_of(scorer, keys[0]).reason == REASONS[grpc.StatusCode.UNAVAILABLE]
    finally:
        server.stop(0)


def test_a_service_with_another_partys_certificate_is_not_the_facilitator(pair):
    keys, _, _ = _bank_shared(pair)
    impostor = PartialScoreServer(
        pair.service, PartialServeSettings("127.0.0.1", 0, pair.tls["other_party"])
    )
    impostor.start()
    try:
        with pair.scorer(address=f"127.0.0.1:{impostor.port}") as scorer:
            assert not scorer.wait_ready(timeout=1.5)
            assert _fallback_of(scorer, keys[0]).reason == REASONS[grpc.StatusCode.UNAVAILABLE]
    finally:
        impostor.stop()


def test_unknown_join_keys_other_runs_and_malformed_keys(pair):
    channel, stub = pair.stub("bank")
    unknown = bytes(range(32))
    with pytest.raises(grpc.RpcError) as missing:
        stub.Contribution(pb.ContributionRequest(run_id=RUN, join_key=unknown), timeout=5)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    assert unknown.hex() not in missing.value.details()
    with pytest.raises(grpc.RpcError) as other:
        stub.Contribution(pb.ContributionRequest(run_id="other", join_key=unknown), timeout=5)
    assert other.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as short:
        stub.Contribution(pb.ContributionRequest(run_id=RUN, join_key=b"\x01" * 31), timeout=5)
    assert short.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    known = load_shared_rows(pair.bank, RUN).join_keys[:2]
    batch = stub.Contributions(
        pb.ContributionsRequest(run_id=RUN, join_keys=[known[0], unknown, known[1]]), timeout=5
    )
    assert list(batch.found) == [True, False, True] and batch.contributions[1] == 0.0
    with pytest.raises(grpc.RpcError) as too_many:
        stub.Contributions(pb.ContributionsRequest(run_id=RUN, join_keys=[unknown] * 10_001))
    assert too_many.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    channel.close()


def test_nothing_in_the_reply_but_the_contribution(pair):
    assert [f.name for f in pb.ContributionReply.DESCRIPTOR.fields] == [
        "contribution",
        "model_version",
    ]
    assert [f.name for f in pb.ContributionsReply.DESCRIPTOR.fields] == [
        "contributions",
        "found",
        "model_version",
    ]
    shared = load_shared_rows(pair.bank, RUN)
    channel, stub = pair.stub("bank")
    reply, call = stub.Contribution.with_call(
        pb.ContributionRequest(run_id=RUN, join_key=shared.join_keys[0]), timeout=5
    )
    channel.close()
    assert {f.name for f, _ in reply.ListFields()} <= {"contribution", "model_version"}
    assert math.isfinite(reply.contribution)
    assert reply.model_version == pair.service.model_version
    custom = [k for k, _ in [*call.initial_metadata(), *call.trailing_metadata()]]
    assert not [k for k in custom if not k.startswith("grpc-")]
    wire = reply.SerializeToString()
    assert len(wire) == 9 + 2 + len(reply.model_version)  # a double, a short string
    assert shared.join_keys[0] not in wire


def test_a_book_scored_in_batches_equals_one_by_one(pair, monkeypatch):
    keys, _, _ = _bank_shared(pair)
    book = [*keys[:700], _not_shared_key(pair), "B999999999", *keys[-50:]]
    monkeypatch.setattr(joint_scorer, "MAX_BATCH", 256)  # several batch calls
    output = pair.root / "book.parquet"
    with pair.scorer() as scorer:
        frame = scorer.score_book(book, output=output)
        singles = {key: scorer.score(key) for key in book if key != "B999999999"}
    assert list(frame["customer_key"]) == book
    assert (output.stat().st_mode & 0o777) == 0o600
    pd.testing.assert_frame_equal(pd.read_parquet(output), frame)
    for record in frame.itertuples(index=False):
        if record.customer_key == "B999999999":
            assert math.isnan(record.probability) and not record.used_fallback
            continue
        single = singles[record.customer_key]
        assert record.probability == single.probability
        assert (record.used_fallback, record.reason) == (single.used_fallback, single.reason)
        assert (record.bank_model, record.facilitator_model) == (
            single.bank_model,
            single.facilitator_model,
        )
    assert frame["used_fallback"].sum() == 1


def test_a_book_with_the_facilitator_down_is_scored_by_the_fallback(pair):
    keys, _, _ = _bank_shared(pair)
    with pair.scorer(address=f"127.0.0.1:{free_port()}") as scorer:
        frame = scorer.score_book(keys[:100])
    assert frame["used_fallback"].all()
    assert set(frame["reason"]) == {REASONS[grpc.StatusCode.UNAVAILABLE]}
    assert frame["probability"].between(0, 1).all()


def test_the_fallback_is_dp_trained_charged_and_declared(pair):
    charged = journal_of(pair.bank).recorded(FALLBACK, "vertical.training")
    assert charged is not None and charged["use"] == USE
    assert charged["noise_multiplier"] > 0 and 0 < pair.fallback.epsilon <= 1.0 + 1e-9
    run = journal_of(pair.bank).recorded(RUN, "vertical.training")
    assert run is not None and run["data_version"] == charged["data_version"]
    # One record-level budget: the run's steps, then the fallback's, composed on it.
    assert charged["budget_used"] > run["budget_used"] + 0.1
    budget = journal_of(pair.bank).record_accountant(pair.bank.purpose, charged["data_version"])
    assert budget.report(charged["delta"]).rdp == pytest.approx(charged["budget_used"])
    assert (fallback_path(pair.bank, FALLBACK).stat().st_mode & 0o777) == 0o600
    # A copy under a name no ledger entry charged is refused, as are taken names.
    copy = fallback_path(pair.bank, "undeclared")
    copy.write_bytes(fallback_path(pair.bank, FALLBACK).read_bytes())
    with pytest.raises(ConfigError, match="no ledger entry"):
        load_fallback(pair.bank, "undeclared")
    for taken in (FALLBACK, RUN):
        with pytest.raises(ConfigError, match="is taken"):
            train_fallback(pair.bank, taken)
    with pytest.raises(ConfigError, match="only the bank"):
        train_fallback(pair.facilitator, "facilitator-fallback")
    assert isinstance(journal_of(pair.bank), VerticalJournal)


def test_customers_whose_consent_lapsed_are_not_served(pair):
    now = load_shared_rows(pair.facilitator, RUN)
    later = load_shared_rows(pair.facilitator, RUN, today=date(2100, 1, 1))
    assert 0 < len(later.rows) < len(now.rows)
    assert all(
        later.table.customer_keys[row] in later.consented_keys for row in later.rows.tolist()
    )


@pytest.mark.slow
def test_the_service_as_a_process_serves_and_stops_on_sigterm(pair, tmp_path):
    tls = pair.tls["loan_facilitator"]
    command = [
        sys.executable,
        "-m",
        "fedscore.vertical.scoring.partial_service",
        *("--config", str(pair.facilitator_toml), "--run", RUN, "--port", "0"),
        *("--ca", str(tls.ca_certificate), "--cert", str(tls.certificate)),
        *("--key", str(tls.private_key)),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving on 127.0.0.1:" in line, line
        address = line.strip().rsplit(" ", 1)[-1]
        keys, _, _ = _bank_shared(pair)
        with pair.scorer(address=address) as scorer:
            assert scorer.wait_ready()
            assert not scorer.score(keys[0]).used_fallback
        channel = grpc.secure_channel(
            address,
            pair.tls["bank"].channel_credentials(),
            [("grpc.ssl_target_name_override", "loan_facilitator")],
        )
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        channel.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        stop_tree(process)
    # What went to the bank is on the facilitator's ledger: the session's bound before
    # the first reply, what it answered when it stopped.
    facilitator = VerticalNodeConfig.from_toml(pair.facilitator_toml)
    with sqlite3.connect(facilitator.journal_path) as db:
        contents = [json.loads(row[0]) for row in db.execute("SELECT content FROM ledger")]
    opened, closed = [c for c in contents if c["kind"] == "vertical.serving"][-2:]
    assert opened["phase"] == "opened" and closed["phase"] == "closed"
    assert opened["served_to"] == closed["served_to"] == "bank"
    assert opened["customers_at_most"] == len(load_shared_rows(facilitator, RUN).join_keys)
    assert closed["calls"] >= 1 and closed["customers_served"] == 1
