"""`Decide` over gRPC with TLS on 127.0.0.1: the in-process decision, the input rules of
`Score` (INVALID_ARGUMENT naming the field, never its value), a server without a strategy."""

from __future__ import annotations

import grpc
import pytest
from decision_support import customers, good_customer, lr_scorer
from test_scoring_grpc import BAD_REQUESTS, assert_names_the_field_not_the_value

from fedscore.decisions import Decider
from fedscore.decisions.strategies import default_strategy_path
from fedscore.deployment.pki import init_pki
from fedscore.scoring.grpc_api import ScoringClient, ScoringServer, ServeSettings
from fedscore.scoring.registry import ModelCard, RegisteredModel


@pytest.fixture(scope="module")
def deciding(schema, market, tmp_path_factory):
    """A model with the bundled strategy served with TLS (the consortium PKI) on 127.0.0.1."""
    root = tmp_path_factory.mktemp("decide-service")
    scorer = lr_scorer(schema, market, root)
    card = ModelCard(
        "test-v1", "run", schema.name, schema.version, schema.sha256, "lr", 1, True, "rdp", (),
        {}, "", "", "",
    )  # fmt: skip
    model = RegisteredModel(card, scorer.model, scorer.profile, root)
    decider = Decider.load(scorer, default_strategy_path())
    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"])
    settings = ServeSettings("127.0.0.1", 0, pki.server_cert, pki.server_key, workers=2)
    servers = [ScoringServer(model, scorer, settings, decider)]
    servers.append(ScoringServer(model, scorer, settings))  # no strategy
    clients = []
    for server in servers:
        server.start()
        clients.append(ScoringClient(f"127.0.0.1:{server.port}", pki.ca_cert))
        clients[-1].wait_ready()
    yield decider, clients[0], clients[1]
    for client, server in zip(clients, servers, strict=True):
        client.close()
        server.stop()


def test_decide_over_tls_matches_the_in_process_decision(deciding, market, schema):
    decider, client, _ = deciding
    arms = set()
    for position, fields in enumerate(customers(market, schema, slice(0, 40))):
        reply = client.decide(fields, application_id=f"application-{position}")
        local = decider.decide(fields, f"application-{position}")
        assert reply.application_id == f"application-{position}"
        assert (reply.outcome, reply.grade, reply.score_grade, reply.arm) == (
            local.outcome,
            local.grade,
            local.score_grade,
            local.arm,
        )
        assert reply.probability_of_default == pytest.approx(local.probability_of_default)
        assert (reply.limit_min, reply.limit_max) == (local.limit_min, local.limit_max)
        assert tuple(reply.fired_rules) == local.fired_rules
        assert tuple(reply.reason_codes) == local.reason_codes
        assert tuple(reply.instalments) == local.instalments
        assert reply.HasField("annual_rate") == (local.annual_rate is not None)
        assert [r.feature for r in reply.model_reasons] == [r.feature for r in local.model_reasons]
        assert (reply.model_version, reply.strategy_version) == ("test-v1", "2026.11-1")
        arms.add((reply.arm, reply.strategy))
    # application-32 falls in the challenger's 10 % (the split is deterministic).
    assert arms == {("champion", "cards_default"), ("challenger", "cards_wider_b")}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_a_bad_application_gets_invalid_argument_naming_the_field(deciding, change, field, why):
    _, client, _ = deciding
    fields = good_customer()
    change(fields)
    with pytest.raises(grpc.RpcError) as caught:
        client.decide(fields, "application-1")
    assert_names_the_field_not_the_value(caught.value, field, why)


def test_an_identifier_as_application_id_is_refused_unechoed(deciding):
    _, client, _ = deciding
    for application_id in ("13912345678", "x" * 129):
        with pytest.raises(grpc.RpcError) as caught:
            client.decide(good_customer(), application_id)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "field 'application_id'" in caught.value.details()
        assert application_id not in caught.value.details()


def test_a_server_without_a_strategy_refuses_decide(deciding):
    _, _, plain = deciding
    assert plain.score(good_customer()).grade in "ABCD"
    with pytest.raises(grpc.RpcError) as caught:
        plain.decide(good_customer())
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
