"""What the coordinator and the auditor make of what a party sends: error replies,
de-identification figures, reasons and its own files' text on their consoles."""

from __future__ import annotations

import pytest
from flwr.app import Message
from message_support import error_reply, train_metadata
from rich.console import Console

from fedscore.core import protocol
from fedscore.core.protocol.deidentification import DeidentificationSummary
from fedscore.server.party_names import PartyNames
from fedscore.server.preflight import _problem_of
from fedscore.server.round_replies import outcome_of
from fedscore.server.run_console import print_problems


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


@pytest.mark.parametrize(
    ("figures", "why"),
    [
        ({"suppression_rate": "[/oops]"}, "holds figure(s) of the wrong type: suppression_rate"),
        ({"k_achieved": 5, "rows": {"read": "many"}}, "holds figure(s) of the wrong type: rows"),
        ({"k_achieved": 5, "\x1b[2Jtext": 1}, "holds a figure fedscore does not know"),
    ],
)
def test_a_hostile_nodes_deidentification_figures_fail_that_party(figures, why):
    """Text where a count belongs reached the coordinator's console (a "[/oops]" ended the
    run's summary with a rich MarkupError, a string rate its `:.1%` format) and its run
    summary."""
    content = protocol.TrainReply(
        protocol.PartyReport(
            "city_bank", protocol.Status.TRAINED, deidentification=DeidentificationSummary(figures)
        ),
        protocol.TrainMetrics(10, 3.0),
    ).to_record()
    outcome = outcome_of(Message(content, metadata=train_metadata(7)), "city_bank")
    assert outcome.status == protocol.FAILED
    assert outcome.reason == f"malformed reply (train reply: 'deidentification' {why})"
    assert "\x1b" not in outcome.reason


def test_problems_quoting_a_partys_reason_print_as_text_not_markup():
    console = Console(record=True, width=300)
    reasons = ["city_bank: [/oops] refused", "large_bank: [link=https://x.example]click[/link]"]
    print_problems(console, reasons)
    printed = console.export_text()
    assert "problem: city_bank: [/oops] refused" in printed
    assert "problem: large_bank: [link=https://x.example]click[/link]" in printed


def test_the_audit_table_prints_a_partys_own_text_as_text(capsys):
    """The auditor's table shows data versions read from each party's own files."""
    from fedscore.cli.audit_output import print_audit

    version = {
        "data_version": "[/oops]",
        "epsilon_rdp": 0.5,
        "epsilon_prv": 0.4,
        "budget_used": 0.5,
        "max_epsilon": 3.0,
        "refused_rounds": 0,
    }
    print_audit(
        {
            "parties": {"city_bank": {"data_versions": [version], "ledger_ok": True}},
            "shared_customers": {"worst_case": None},
            "findings": [],
            "verification": {"ok": True},
        }
    )
    assert "[/oops]" in capsys.readouterr().err
