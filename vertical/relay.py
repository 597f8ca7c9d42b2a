"""The coordinator's side of a vertical run: it relays, it never reads.

Flower has no node-to-node channel, so every payload between the bank and the
facilitator goes through the ServerApp, sealed end to end: the relay sees stage names,
sizes and the public facts each node reports (set sizes, the intersection commitment,
ε, test figures), nothing else. Its order of exchanges:

1. ADMIT both: each checks the signed terms against its own config and policy, reads its
   table and answers with a signed channel offer;
2. PSI_START, PSI_ANSWER, PSI_FINISH: the private set intersection, each party getting the
   peer's sealed message of the previous stage; both must report the same commitment;
3. SETUP both: the label release (bank), each party's DP-SGD charge;
4. per training step: FORWARD to the facilitator (the previous step's gradients in, this
   step's contributions out), STEP to the bank (contributions in, gradients out); one
   last FORWARD applies the final gradients;
5. EVALUATE: the facilitator's contributions for the held-out customers to the bank,
   which reports the joint model's test figures;
6. CLOSE both: each erases the run's channel key and PSI secrets.

The run's record (`vertical_summary.json` in the run directory) lists every exchange
with its duration and the bytes relayed, so that what the coordinator saw is on file.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flwr.app import Message
from flwr.serverapp import Grid

from fedscore.core.errors import FedscoreError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.owner_request import DEFAULT_VERTICAL_TIMEOUT
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.core.run_request import SignedRunRequest
from fedscore.server.polling_grid import PollingGrid
from fedscore.server.preflight import connected_parties
from fedscore.vertical.messages import MESSAGE_TYPE, Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.request import VerticalTerms, terms_of
from fedscore.vertical.summary import SUMMARY_FILE


class VerticalRunFailed(FedscoreError):
    """A party declined or failed a stage, or the parties disagree; the run stopped."""


@dataclass(frozen=True)
class RelaySettings:
    """What the coordinator needs for one vertical run.

    Attributes:
        signed_request: the model owner's signed run request with the vertical terms.
        runs_dir: the folder of run directories.
        timeout: seconds to wait for the parties to connect and for each reply.
        on_step: called after each training step with (steps done, steps in all), e.g.
            to draw a progress bar.
    """

    signed_request: SignedRunRequest
    runs_dir: Path
    timeout: float = DEFAULT_VERTICAL_TIMEOUT
    on_step: Callable[[int, int], None] | None = None


@dataclass
class _Relay:
    grid: PollingGrid
    run_id: str
    terms: VerticalTerms
    timeout: float
    nodes: dict[str, int] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    def exchange(self, stage: Stage, requests: dict[str, StageRequest]) -> dict[str, StageReply]:
        """Send each named party its request; every reply, each from the party it was for."""
        messages = {
            party: Message(
                content=request.to_record(),
                dst_node_id=self.nodes[party],
                message_type=MESSAGE_TYPE,
            )
            for party, request in requests.items()
        }
        started = time.monotonic()
        replies = list(self.grid.send_and_receive(messages.values(), timeout=self.timeout))
        by_id = {message.metadata.message_id: party for party, message in messages.items()}
        answered: dict[str, StageReply] = {}
        for reply in replies:
            party = by_id.get(reply.metadata.reply_to_message_id)
            if party is None or not reply.has_content():
                continue
            try:
                answered[party] = StageReply.from_record(reply.content)
            except MalformedMessage as error:
                problem = f"{stage.value}: {party}'s reply is malformed: {error}"
                raise VerticalRunFailed(problem) from error
        self.log.append(
            {
                "stage": stage.value,
                "parties": sorted(requests),
                "seconds": round(time.monotonic() - started, 4),
                "bytes_to_nodes": sum(len(r.sealed) for r in requests.values()),
                "bytes_from_nodes": sum(len(r.sealed) for r in answered.values()),
            }
        )
        for party in requests:
            answer = answered.get(party)
            if answer is None:
                raise VerticalRunFailed(f"{stage.value}: no reply from {party} in time")
            if answer.party != party:
                raise VerticalRunFailed(f"{stage.value}: a node answered as {answer.party}")
            if answer.outcome is not Outcome.DONE:
                raise VerticalRunFailed(
                    f"{stage.value}: {party} {answer.outcome.value}: {answer.reason}"
                )
        return answered

    def both(
        self, stage: Stage, sealed: dict[str, bytes] | None = None, step: int = 0
    ) -> dict[str, StageReply]:
        """One exchange with both parties, each given what its peer sealed for it."""
        peers = {
            self.terms.label_holder: self.terms.feature_holder,
            self.terms.feature_holder: self.terms.label_holder,
        }
        return self.exchange(
            stage,
            {
                party: StageRequest(
                    stage, self.run_id, step=step, sealed=(sealed or {}).get(peers[party], b"")
                )
                for party in peers
            },
        )

    def one(self, stage: Stage, party: str, sealed: bytes = b"", step: int = 0) -> StageReply:
        return self.exchange(
            stage, {party: StageRequest(stage, self.run_id, step=step, sealed=sealed)}
        )[party]


def run_vertical(grid: Grid, settings: RelaySettings) -> Path:
    """Relay one vertical run between its two parties; returns the run directory.

    Raises:
        VerticalRunFailed: a party declined or failed, a reply was missing or malformed,
            or the two parties disagree on the intersection or the training plan.
    """
    signed = settings.signed_request
    terms = terms_of(signed)
    run_id = signed.request.run_id
    run_dir = settings.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    relay = _Relay(PollingGrid(grid), run_id, terms, settings.timeout)
    summary: dict[str, Any] = {"run_id": run_id, "terms_sha256": terms.sha256(), "ok": False}
    try:
        _drive(relay, signed, summary, settings.on_step)
        summary["ok"] = True
    except FedscoreError as error:
        summary["error"] = str(error)
        _close_quietly(relay)
        raise
    finally:
        summary["exchanges"] = relay.log
        write_bytes_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2).encode("utf-8"))
    return run_dir


def _close_quietly(relay: _Relay) -> None:
    """Ask the admitted parties to erase the stopped run's secrets.

    Best effort: a party that is gone erases them itself once the run's request expires.
    """
    if len(relay.nodes) < 2:
        return
    with contextlib.suppress(FedscoreError):
        relay.both(Stage.CLOSE)


def _drive(
    relay: _Relay,
    signed: SignedRunRequest,
    summary: dict[str, Any],
    on_step: Callable[[int, int], None] | None,
) -> None:
    terms = relay.terms
    bank, facilitator = terms.label_holder, terms.feature_holder
    started = time.monotonic()
    node_ids = connected_parties(relay.grid, 2, relay.timeout)
    summary["seconds_to_connect"] = round(time.monotonic() - started, 4)
    if len(node_ids) < 2:
        raise VerticalRunFailed(f"only {len(node_ids)} of the 2 parties connected in time")
    admit = StageRequest(Stage.ADMIT, relay.run_id, request=signed.encode())
    messages = [
        Message(content=admit.to_record(), dst_node_id=n, message_type=MESSAGE_TYPE)
        for n in node_ids
    ]
    started = time.monotonic()
    replies = list(relay.grid.send_and_receive(messages, timeout=relay.timeout))
    relay.log.append(
        {"stage": Stage.ADMIT.value, "parties": [], "seconds": round(time.monotonic() - started, 4)}
    )
    offers: dict[str, bytes] = {}
    refusals: list[str] = []
    for message in replies:
        answer = StageReply.from_record(message.content) if message.has_content() else None
        if answer is None or answer.party not in (bank, facilitator) or answer.party in relay.nodes:
            continue
        relay.nodes[answer.party] = message.metadata.src_node_id
        if answer.outcome is not Outcome.DONE:
            refusals.append(f"{answer.party} {answer.outcome.value}: {answer.reason}")
        offers[answer.party] = answer.sealed
    if refusals:  # every party's reasons at once
        raise VerticalRunFailed("admit: " + "; ".join(sorted(refusals)))
    missing = sorted({bank, facilitator} - set(relay.nodes))
    if missing:
        raise VerticalRunFailed(f"admit: no admission from {', '.join(missing)}")
    sets = relay.both(Stage.PSI_START, offers)
    answers = relay.both(Stage.PSI_ANSWER, {p: r.sealed for p, r in sets.items()})
    finished = relay.both(Stage.PSI_FINISH, {p: r.sealed for p, r in answers.items()})
    commitments = {p: r.facts.get("commitment") for p, r in finished.items()}
    if terms.reveal.value == "both" and len(set(commitments.values())) != 1:
        raise VerticalRunFailed("the two parties' intersections differ (commitments disagree)")
    summary["psi"] = {p: r.facts for p, r in finished.items()}
    if terms.reveal.value != "both":
        relay.both(Stage.CLOSE)
        return
    setup = relay.both(Stage.SETUP)
    planned = {p: r.facts.get("steps") for p, r in setup.items()}
    total = planned[bank]
    if len(set(planned.values())) != 1 or not isinstance(total, int):
        raise VerticalRunFailed(f"the parties planned different training steps: {planned}")
    summary["setup"] = {p: r.facts for p, r in setup.items()}
    gradients = b""
    for step in range(total):
        contributions = relay.one(Stage.FORWARD, facilitator, gradients, step).sealed
        gradients = relay.one(Stage.STEP, bank, contributions, step).sealed
        if on_step is not None:
            on_step(step + 1, total)
    relay.one(Stage.FORWARD, facilitator, gradients, total)
    held_out = relay.one(Stage.EVALUATE, facilitator).sealed
    summary["test"] = relay.one(Stage.EVALUATE, bank, held_out).facts
    relay.both(Stage.CLOSE)
