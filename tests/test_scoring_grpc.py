"""The gRPC scoring service with TLS over a real socket on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from process_support import scoring_service

from fedscore.core.errors import ConfigError
from fedscore.deployment.pki import init_pki
from fedscore.scoring import ModelRegistry
from fedscore.scoring.grpc_api import (
    FIELDS_METADATA,
    SERVICE_NAME,
    ScoringClient,
    ScoringServer,
    ServeSettings,
)
from fedscore.scoring.grpc_api.convert import fields_request


@pytest.fixture(scope="module")
def served(trained_consortium, tmp_path_factory):
    """A registered model served with TLS (the consortium PKI's certificate) on 127.0.0.1."""
    root = tmp_path_factory.mktemp("scoring-service")
    registry = ModelRegistry(root / "registry")
    version = registry.register(trained_consortium.run_dir, trained_consortium.keys).version
    registry.promote(version)
    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"])
    model = registry.load("production")
    scorer = model.scorer()
    server = ScoringServer(
        model, scorer, ServeSettings("127.0.0.1", 0, pki.server_cert, pki.server_key)
    )
    server.start()
    client = ScoringClient(f"127.0.0.1:{server.port}", pki.ca_cert)
    client.wait_ready()
    yield registry, pki, scorer, server, client
    client.close()
    server.stop()


@pytest.fixture(scope="module")
def customers(market, schema):
    """50 customers of the consortium test set: their feature fields only."""
    return market.consortium_test.head(50)[[c.name for c in schema.features]].to_dict("records")


def test_scores_over_tls_match_in_process_scores(served, customers):
    _, _, scorer, _, client = served
    assert client.health() == "SERVING" and client.health(SERVICE_NAME) == "SERVING"
    info = client.model_info()
    assert info.model_version == "default_risk-v1" and [g.name for g in info.grades] == list("ABCD")
    assert json.loads(info.model_card_json)["task"] == "default_risk"
    for position, customer in enumerate(customers[:10]):
        reply = client.score(customer, request_id=f"r{position}")
        local = scorer.score_record(customer)
        assert reply.request_id == f"r{position}" and reply.model_version == "default_risk-v1"
        assert reply.probability_of_default == pytest.approx(local.probability_of_default)
        assert reply.score == pytest.approx(local.score)
        assert (reply.grade, reply.action) == (local.grade, local.action)
        assert [r.feature for r in reply.reasons] == [r.feature for r in local.reasons]
    streamed = list(client.score_stream(customers))
    assert [r.request_id for r in streamed] == [str(i) for i in range(1, len(customers) + 1)]
    assert streamed[0].score == pytest.approx(scorer.score_record(customers[0]).score)


def test_plaintext_is_refused(served):
    _, _, _, server, _ = served
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(channel).result(timeout=1.5)
    channel.close()


BAD_REQUESTS = [
    ("missing", lambda c: c.pop("AGE"), "AGE", "value is missing"),
    ("wrong type", lambda c: c.update(LIMIT_BAL="plenty"), "LIMIT_BAL", "expected a finite number"),
    ("unknown category", lambda c: c.update(PAY_0=11), "PAY_0", "unknown category"),
    (
        "not a feature",
        lambda c: c.update(favourite_colour="red"),
        "favourite_colour",
        "not a feature of the model",
    ),
    (
        "identifier field",
        lambda c: c.update(id_number="11010519491231002X"),
        "id_number",
        "direct identifier",
    ),
    (
        "mobile in a feature",
        lambda c: c.update(BILL_AMT1=13912345678),
        "BILL_AMT1",
        "direct identifier (detected as mobile)",
    ),
    (
        "e-mail in a feature",
        lambda c: c.update(EDUCATION="li.wei@example.com"),
        "EDUCATION",
        "direct identifier (detected as email)",
    ),
]


def assert_names_the_field_not_the_value(error: grpc.RpcError, field: str, why: str) -> None:
    """`error` is INVALID_ARGUMENT naming `field` and `why`, and no value of `BAD_REQUESTS`."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"field '{field}'" in error.details() and why in error.details()
    assert dict(error.trailing_metadata())[FIELDS_METADATA] == field
    for value in ("plenty", "11010519491231002X", "13912345678", "li.wei@example.com"):
        assert value not in error.details()


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request_gets_invalid_argument_naming_the_field(served, customers, change, field, why):
    _, _, _, _, client = served
    customer = dict(customers[0])
    change(customer)
    with pytest.raises(grpc.RpcError) as caught:
        client.score(customer)
    assert_names_the_field_not_the_value(caught.value, field, why)


def test_a_bad_request_ends_the_stream_naming_its_position(served, customers):
    _, _, _, _, client = served
    stream = [customers[0], customers[1], {**customers[2], "SEX": 3}]
    replies = client.score_stream(stream)
    assert next(replies).request_id == "1"
    with pytest.raises(grpc.RpcError) as caught:
        list(replies)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request #3 (request_id '3'): field 'SEX': unknown category" in caught.value.details()


def test_fedscore_serve_shuts_down_gracefully_on_sigterm(served, customers, tmp_path):
    registry, pki, _, _, _ = served
    with scoring_service(registry.root, pki.root, "--model", "production") as (
        process,
        port,
        banner,
    ):
        assert process.stderr is not None
        assert f"serving default_risk-v1 on 127.0.0.1:{port} (TLS" in banner, banner
        release = threading.Event()

        def book() -> Iterator[dict[str, object]]:
            yield customers[0]
            release.wait(timeout=10)  # the stream stays open across the SIGTERM
            yield customers[1]

        with ScoringClient(f"127.0.0.1:{port}", pki.ca_cert) as client:
            client.wait_ready(timeout=20)
            assert client.score(customers[0]).model_version == "default_risk-v1"
            in_flight = client.score_stream(book())
            assert next(in_flight).request_id == "1"
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            refused_after = seconds_until_new_calls_are_refused(client, customers[2])
            assert refused_after < 5, "new calls were still served 5 s after SIGTERM"
            release.set()  # shutdown has begun: no new calls, the open stream goes on
            rest = list(in_flight)  # finishes within the grace period, not cut off
            assert [r.request_id for r in rest] == ["2"]
            assert rest[0].model_version == "default_risk-v1"
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert "stopped" in process.stderr.read()


def seconds_until_new_calls_are_refused(client: ScoringClient, row: dict[str, object]) -> float:
    """Call the service until it refuses a new call, at most 5 s; the seconds it took.

    The signal reaches the server's main thread after a moment that depends on the load
    of the machine, so a fixed wait would make the test flaky on a busy CI runner.
    """
    started = time.monotonic()
    while time.monotonic() - started < 5:
        try:
            client.score(row, timeout=2)
        except grpc.RpcError:
            return time.monotonic() - started
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("extra", [1_000, 100_000])
def test_a_request_with_thousands_of_fields_gets_a_refusal_its_client_can_read(
    served, customers, extra
):
    """Every wrong field used to be listed, in the message and the trailer: past ~200 the
    reply's metadata exceeded gRPC's 16 KiB and the client saw only "Stream removed"
    (RESOURCE_EXHAUSTED), after the server had checked every field."""
    _, _, _, _, client = served
    with pytest.raises(grpc.RpcError) as caught:
        client.score({**customers[0], **{f"x{i}": "13812345678" for i in range(extra)}})
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details() == (
        f"the request carries {len(customers[0]) + extra:,} fields, more than the task's 33 "
        "columns: send only the model's 23 features; nothing was checked or scored"
    )
    assert client.score(customers[1]).model_version == "default_risk-v1"  # still serving


def test_a_refusal_lists_the_first_twenty_problems_and_counts_the_rest(served, customers):
    _, _, _, _, client = served
    with pytest.raises(grpc.RpcError) as caught:
        client.score(dict.fromkeys(customers[0], "not a number"))
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.details()
    assert details.count("; field '") == 19  # 20 listed (numbers and unknown categories)
    assert details.endswith("; and 3 more problem(s), not listed")
    (trailer,) = [value for key, value in error.trailing_metadata() if key == FIELDS_METADATA]
    assert len(trailer.split(",")) == 20


#: Identifiers as a client sends them in a numeric field: as doubles, which hold every
#: integer only up to 2**53, so all but the mobile arrive with other last digits.
NUMERIC_IDENTIFIERS = [
    ("resident ID", 110105198001010059, "resident_id"),  # arrives as ...064
    ("resident ID whose check character X a number cannot carry", 11010519491231002, "resident_id"),
    ("19-digit UnionPay card", 6217009576601596814, "bank_card"),
    ("18-digit card", 621700957660159689, "bank_card"),
    ("17-digit card", 62170095766015964, "bank_card"),
    ("resident ID as numeric text in exponent form", "1.1010519800101006e17", "resident_id"),
    ("ID without its X as text", "11010519491231002", "resident_id"),
]


@pytest.mark.parametrize(
    ("value", "detector"),
    [case[1:] for case in NUMERIC_IDENTIFIERS],
    ids=[case[0] for case in NUMERIC_IDENTIFIERS],
)
def test_identifiers_sent_as_numbers_are_refused(served, customers, value, detector):
    _, _, _, _, client = served
    with pytest.raises(grpc.RpcError) as caught:
        client.score({**customers[0], "BILL_AMT1": value})
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.details()
    assert f"field 'BILL_AMT1': holds a direct identifier (detected as {detector})" in details
    assert dict(error.trailing_metadata())[FIELDS_METADATA] == "BILL_AMT1"
    assert str(value)[:11] not in details


#: Field names that must never come back in an error or the trailer.
SECRET_NAMES = {
    "field named by a resident ID": "11010519491231002X",
    "field named by a mobile": "13912345678",
    "field named by a card number": "6217009576601596814",
    "field with a 1 MB name": "n" * 1_000_000,
}


@pytest.mark.parametrize("name", SECRET_NAMES.values(), ids=SECRET_NAMES.keys())
def test_a_field_name_holding_an_identifier_is_named_by_position(served, customers, name):
    _, _, _, _, client = served
    fields = {**customers[0], name: 1}
    with pytest.raises(grpc.RpcError) as caught:
        client.score(fields)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    position = sorted(fields).index(name) + 1
    assert f"field #{position} (name withheld" in error.details()
    assert "not a feature of the model" in error.details()
    assert dict(error.trailing_metadata())[FIELDS_METADATA] == f"#{position}"
    for echoed in (error.details(), str(error.trailing_metadata())):
        assert name[:11] not in echoed


@pytest.mark.parametrize(
    ("request_id", "why"),
    [
        ("11010519491231002X", "request_id: holds a direct identifier (detected as resident_id"),
        ("13912345678", "request_id: holds a direct identifier (detected as mobile"),
        ("r" * 1_000_000, "request_id: must be at most 128 printable ASCII characters"),
        ("r" * 129, "request_id: must be at most 128 printable ASCII characters"),
        ("订单-1", "request_id: must be at most 128 printable ASCII characters"),
    ],
    ids=["resident ID", "mobile", "1 MB", "129 characters", "not ASCII"],
)
def test_a_request_id_that_cannot_be_echoed_is_refused(served, customers, request_id, why):
    _, _, _, _, client = served
    with pytest.raises(grpc.RpcError) as caught:
        client.score(customers[0], request_id=request_id)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert why in error.details() and len(error.details()) < 300
    assert dict(error.trailing_metadata())[FIELDS_METADATA] == "request_id"
    assert request_id[:11] not in error.details()
    # In a stream, the request is named by its position only.
    requests = iter([fields_request(customers[0], "a"), fields_request(customers[1], request_id)])
    replies = client.stub.ScoreBatch(requests, timeout=10)
    assert next(replies).request_id == "a"
    with pytest.raises(grpc.RpcError) as streamed:
        list(replies)
    assert streamed.value.details().startswith(f"request #2: {why}")
    assert request_id[:11] not in streamed.value.details()


def test_a_request_id_of_128_printable_characters_is_echoed(served, customers):
    _, _, _, _, client = served
    request_id = "~ r-" + "9" * 124
    assert client.score(customers[0], request_id=request_id).request_id == request_id


def test_nan_sent_as_a_number_is_not_a_finite_number(served, customers):
    _, _, _, _, client = served
    with pytest.raises(grpc.RpcError) as caught:
        client.score({**customers[0], "BILL_AMT1": float("nan")})
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "field 'BILL_AMT1': wrong type: expected a finite number"
    assert "missing" not in error.details()


@pytest.mark.parametrize(
    ("port", "workers", "why"),
    [(70_000, 0, "--port"), (-1, 0, "--port"), (50051, -1, "--workers")],
    ids=["port above 65535", "negative port", "negative workers"],
)
def test_serve_settings_out_of_range_are_refused(served, port, workers, why):
    _, pki, _, _, _ = served
    # gRPC would take port 70000 modulo 65536 and listen on 4464.
    with pytest.raises(ConfigError, match=why):
        ServeSettings("127.0.0.1", port, pki.server_cert, pki.server_key, workers=workers)
