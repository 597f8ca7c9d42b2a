"""How the round loop reads a party's error reply (server/round_replies.py)."""

from __future__ import annotations

import pytest
from flwr.app import Message
from message_support import error_reply

from fedscore.core import protocol
from fedscore.server.party_names import PartyNames
from fedscore.server.preflight import _problem_of
from fedscore.server.round_replies import outcome_of


def _error_reply(reason: str | None) -> Message:
    return error_reply(reason, src_node_id=7, sent_to=7)


def test_an_error_reply_without_a_reason_is_a_failed_outcome():
    """Flower's Error.reason is optional: a reply without one is booked, not a crash."""
    outcome = outcome_of(_error_reply(None), "city_bank")
    assert outcome.party == "city_bank"
    assert outcome.status == protocol.FAILED
    assert outcome.reason == ""


@pytest.mark.parametrize(
    ("reason", "shown"),
    [("Error: Node Unavailable", "Error: Node Unavailable"), ("\x1b[31mred\x1b[0m\nx", "red x")],
)
def test_an_error_replys_reason_is_made_printable(reason: str, shown: str):
    assert outcome_of(_error_reply(reason), "city_bank").reason == shown


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (None, "no reason given"),
        ("\x1b[2J\x1b[31mwe refuse\x1b[0m\r\nfake line", "we refuse fake line"),
    ],
)
def test_a_refusal_before_round_1_is_printed_without_terminal_escapes(reason, shown):
    """A hostile party's reason cannot clear the coordinator's terminal or forge lines."""
    problem = _problem_of(_error_reply(reason), 7, PartyNames())
    assert problem.endswith(f": {shown}")
    assert "\x1b" not in problem and "\n" not in problem and "\r" not in problem
