"""The node↔server protocol: every message kind round-trips through its Flower records,
and a message fedscore cannot read is refused naming its kind and key, never a value."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict
from hypothesis import given
from hypothesis import strategies as st

from fedscore.core import protocol
from fedscore.core.protocol import (
    DeidentificationSummary,
    EvaluateReply,
    EvaluateRequest,
    Evaluation,
    LedgerHead,
    MalformedMessage,
    PartyReport,
    ReadinessQuery,
    ReadinessReply,
    RoundRequest,
    Scores,
    Status,
    TrainMetrics,
    TrainReply,
    TrainRequest,
    UnknownProtocolVersion,
)
from fedscore.core.runconfig import RunConfig

ROOT = Path(__file__).parent.parent
MODEL = ArrayRecord({"0.weight": Array(np.arange(4, dtype=np.float32))})
HEAD = LedgerHead(3, {"run_id": "r", "epsilon": 0.5}, "ab", "cd", "ed25519", "ef", "01")
SUMMARY = DeidentificationSummary(
    {"k_achieved": 5, "suppression_rate": 0.01, "rows": {"read": 1000, "after_suppression": 900}}
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
texts = st.text(max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
statuses = st.sampled_from(list(Status))
optional = st.none() | finite


@st.composite
def party_reports(draw: st.DrawFn) -> PartyReport:
    return PartyReport(
        name=draw(names),
        status=draw(statuses),
        reason=draw(texts),
        note=draw(texts),
        deidentification=draw(st.none() | st.just(SUMMARY)),
        ledger_head=draw(st.none() | st.just(HEAD)),
    )


@st.composite
def round_requests(draw: st.DrawFn) -> RoundRequest:
    return RoundRequest(
        run=RunConfig(rounds=draw(st.integers(1, 50)), seed=draw(st.integers(0, 1000))),
        run_id=draw(names),
        server_round=draw(st.integers(0, 1000)),
        schema_sha256=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
        task=draw(names),
        array_names=tuple(draw(st.lists(names, max_size=4))),
        run_request=draw(texts),
    )


@st.composite
def train_metrics(draw: st.DrawFn) -> TrainMetrics:
    return TrainMetrics(
        num_examples=draw(st.integers(0, 10**6)),
        max_epsilon=draw(finite),
        epsilon_rdp=draw(finite),
        epsilon_prv=draw(finite),
        delta=draw(optional),
        noise_multiplier=draw(optional),
        sample_rate=draw(optional),
        steps=draw(st.none() | st.integers(0, 10**6)),
        train_loss=draw(optional),
        update_norm=draw(optional),
    )


@given(party_reports())
def test_party_report_round_trips(report: PartyReport) -> None:
    assert PartyReport.from_record(report.to_record()) == report


@given(round_requests())
def test_round_request_round_trips(request: RoundRequest) -> None:
    assert RoundRequest.from_record(request.to_record()) == request


@given(round_requests())
def test_model_requests_and_the_readiness_query_round_trip(request: RoundRequest) -> None:
    for kind in (TrainRequest, EvaluateRequest):
        decoded = kind.from_record(kind(MODEL, request).to_record())
        assert decoded.request == request and decoded.model is MODEL
    assert ReadinessQuery.from_record(ReadinessQuery(request).to_record()).request == request


unit = st.floats(0.0, 1.0) | st.just(math.nan)


@st.composite
def evaluations(draw: st.DrawFn) -> Evaluation:
    scores = draw(st.none() | st.tuples(unit, unit, unit, st.floats(0.0, 1e6)))
    return Evaluation(draw(st.integers(0, 10**6)), None if scores is None else Scores(*scores))


@given(party_reports(), train_metrics(), st.booleans(), st.none() | evaluations())
def test_train_reply_round_trips(
    party: PartyReport, metrics: TrainMetrics, update: bool, evaluation: Evaluation | None
) -> None:
    reply = TrainReply(party, metrics, MODEL if update else None, evaluation)
    assert TrainReply.from_record(reply.to_record()) == reply
    assert TrainMetrics.from_json(metrics.to_json()) == metrics


@given(party_reports(), evaluations())
def test_evaluate_reply_round_trips(party: PartyReport, evaluation: Evaluation) -> None:
    reply = EvaluateReply(party, evaluation)
    assert EvaluateReply.from_record(reply.to_record()) == reply


@given(party_reports(), st.integers(0, 10**6))
def test_readiness_reply_round_trips(party: PartyReport, rows: int) -> None:
    reply = ReadinessReply(party, rows)
    assert ReadinessReply.from_record(reply.to_record()) == reply
    assert reply.ready == (party.status == Status.READY)


def test_ledger_head_and_summary_round_trip() -> None:
    assert LedgerHead.from_record(HEAD.to_record()) == HEAD
    assert DeidentificationSummary.from_record(SUMMARY.to_record()) == SUMMARY


def test_nan_figures_travel_as_nan() -> None:
    metrics = TrainMetrics(num_examples=0, max_epsilon=3.0)
    decoded = TrainMetrics.from_record(metrics.to_record())
    assert math.isnan(decoded.epsilon_rdp) and math.isnan(decoded.epsilon_prv)


def test_the_wire_format_is_unchanged() -> None:
    """The keys and types deployed nodes and stored runs use (plus the version key)."""
    reply = TrainReply(
        PartyReport("bank", Status.TRAINED, note="n"),
        TrainMetrics(10, 3.0, 0.5, 0.4, 1e-6, 1.1, 0.01, 7, 0.6),
    ).to_record()
    assert dict(reply.config_records["party"]) == {
        "name": "bank",
        "status": "trained",
        "reason": "",
        "note": "n",
        "protocol-version": 1,
    }
    assert dict(reply.metric_records["metrics"]) == {
        "num-examples": 10,
        "max-epsilon": 3.0,
        "epsilon-rdp": 0.5,
        "epsilon-prv": 0.4,
        "delta": 1e-6,
        "noise-multiplier": 1.1,
        "sample-rate": 0.01,
        "steps": 7,
        "train-loss": 0.6,
    }


def test_a_message_without_the_version_key_is_version_1() -> None:
    record = PartyReport("bank", Status.REFUSED, "budget").to_record()
    del record[protocol.records.PROTOCOL_VERSION_KEY]
    assert PartyReport.from_record(record).version == 1


def _train_reply() -> RecordDict:
    return TrainReply(PartyReport("bank", Status.TRAINED), TrainMetrics(10, 3.0)).to_record()


def test_a_missing_key_names_the_kind_and_the_key() -> None:
    content = _train_reply()
    del content.metric_records["metrics"]["epsilon-rdp"]
    with pytest.raises(MalformedMessage, match=r"^train reply: 'epsilon-rdp' is missing$"):
        TrainReply.from_record(content)
    del content.config_records["party"]
    with pytest.raises(MalformedMessage, match=r"^train reply: 'party' record is missing$"):
        TrainReply.from_record(content)


def test_a_wrong_type_names_the_kind_and_the_key_never_the_value() -> None:
    content = _train_reply()
    content.config_records["party"]["name"] = 1234567
    with pytest.raises(MalformedMessage) as caught:
        TrainReply.from_record(content)
    assert str(caught.value) == "train reply: 'name' must be str, not int"
    assert "1234567" not in str(caught.value)
    config = RoundRequest(RunConfig(), "run-a", 1, "0" * 64, "task").to_record()
    config["server-round"] = "one"
    with pytest.raises(MalformedMessage, match=r"^round request: 'server-round' must be int"):
        RoundRequest.from_record(config)


def test_an_unknown_protocol_version_is_refused() -> None:
    content = _train_reply()
    content.config_records["party"]["protocol-version"] = 99
    with pytest.raises(UnknownProtocolVersion, match=r"^train reply: 'protocol-version' is 99"):
        TrainReply.from_record(content)
    query = ReadinessQuery(RoundRequest(RunConfig(), "run-a", 0, "0" * 64, "task"))
    content = query.to_record()
    content.config_records["config"]["protocol-version"] = 2
    with pytest.raises(UnknownProtocolVersion, match=r"^readiness query: 'protocol-version'"):
        ReadinessQuery.from_record(content)


def test_an_unknown_status_is_refused() -> None:
    record = PartyReport("bank", Status.TRAINED).to_record()
    record["status"] = "exploded"
    with pytest.raises(MalformedMessage, match=r"^party report: 'status' is not a known status$"):
        PartyReport.from_record(record)


def test_flower_errors_map_to_outcomes() -> None:
    assert protocol.error_status(protocol.APP_NOT_APPROVED_CODE) == Status.DECLINED
    assert protocol.error_status(protocol.NODE_FAILED_CODE) == Status.FAILED


WIRE_KEYS = [
    "epsilon-rdp",
    "epsilon-prv",
    "noise-multiplier",
    "max-epsilon",
    "sample-rate",
    "train-loss",
    "ledger-head",
    "num-examples",
    "update-norm",
    "server-round",
    "schema-sha256",
    "array-names",
    "protocol-version",
]


def test_only_the_protocol_package_spells_the_wire_keys() -> None:
    pattern = re.compile("|".join(rf"[\"']{re.escape(key)}[\"']" for key in WIRE_KEYS))
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for folder in ("clients", "server", "core")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "protocol" not in path.relative_to(ROOT).parts
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_record_is_ever_decoded_from_a_config_record_by_hand() -> None:
    """The node and server modules read no status or party key themselves."""
    pattern = re.compile(r"config_records\[|metric_records\[")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("clients", "server")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
        and path.name != "secure_aggregation.py"  # Flower's legacy records of SecAgg+
    ]
    assert offenders == []


def test_a_config_record_keeps_unknown_run_settings_as_extra() -> None:
    config = RoundRequest(RunConfig(), "run-a", 1, "0" * 64, "task").to_record()
    config["newer-setting"] = 1
    assert isinstance(RoundRequest.from_record(ConfigRecord(dict(config))).run, RunConfig)


@pytest.mark.parametrize(
    ("key", "value"),
    [("auc", 1e300), ("auc", -0.1), ("ks", 1.5), ("brier", math.inf), ("log-loss", -1.0),
     ("log-loss", math.inf), ("num-examples", -3), ("num-examples", 2.5)],
)  # fmt: skip
def test_figures_no_honest_node_computes_are_refused(key, value):
    """A hostile node's evaluation figures would go into the run's history, plots and report:
    out of range, they make the reply malformed (the server books nothing of it)."""
    reply = TrainReply(
        PartyReport("bank", Status.TRAINED),
        TrainMetrics(10, 3.0),
        evaluation=Evaluation(5, Scores(0.7, 0.3, 0.2, 0.5)),
    ).to_record()
    reply.config_records["evaluation"][key] = value
    with pytest.raises(MalformedMessage, match=f"'{key}' must be"):
        TrainReply.from_record(reply)
