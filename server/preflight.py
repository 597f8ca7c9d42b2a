"""Before round 1: ask every party whether it can take part; refuse the run if one cannot.

Every party answers with every reason it cannot (the run is outside its policy, its table
is invalid, the label has one class, delta or the batch size does not fit its rows, the
run would pass its budget: `fedscore.clients.rounds.preflight`), and nothing is spent
anywhere. The model owner then gets all the problems of all the parties at once, and a
run no party could finish never starts.
"""

from __future__ import annotations

import time

from flwr.app import Message, MessageType
from flwr.serverapp import Grid

from fedscore.core.errors import printable_reason
from fedscore.core.protocol import ProtocolError, ReadinessQuery, ReadinessReply, RoundRequest
from fedscore.server.messages import expiring
from fedscore.server.party_names import PartyNames
from fedscore.server.settings import ServerSettings

#: Seconds between two looks at how many nodes are connected.
_WAIT_INTERVAL = 0.2


def connected_parties(grid: Grid, expected: int, timeout: float) -> list[int]:
    """The node ids once `expected` nodes are connected (or whoever is, at `timeout`)."""
    deadline = time.monotonic() + timeout
    node_ids = list(grid.get_node_ids())
    while len(node_ids) < expected and time.monotonic() < deadline:
        time.sleep(_WAIT_INTERVAL)
        node_ids = list(grid.get_node_ids())
    return node_ids


def readiness_problems(
    grid: Grid, request: RoundRequest, settings: ServerSettings, names: PartyNames
) -> list[str]:
    """Every party's reasons it cannot take part in the run (empty: all can).

    Args:
        grid: the ServerApp's grid.
        request: the round instructions every round will carry (with the signed request).
        settings: the run's settings (expected parties, timeout).
        names: learns each node's institution from its answer.
    """
    run = settings.run
    problems: list[str] = []
    if settings.expected_parties < run.min_parties:
        problems.append(
            f"the run waits for {settings.expected_parties} parties but needs min_parties "
            f"{run.min_parties} in every round"
        )
    node_ids = connected_parties(grid, settings.expected_parties, settings.round_timeout)
    if len(node_ids) < settings.expected_parties:
        problems.append(
            f"{len(node_ids)} of {settings.expected_parties} parties connected within "
            f"{settings.round_timeout:g} s"
        )
    messages = expiring(
        [
            Message(
                content=ReadinessQuery(request).to_record(),
                message_type=MessageType.QUERY,
                dst_node_id=node_id,
                group_id="preflight",
            )
            for node_id in node_ids
        ],
        settings.round_timeout,
    )
    replies = list(grid.send_and_receive(messages, timeout=settings.round_timeout))
    # The SuperLink answers some errors itself, from its own id: attribute them by message
    # (a message's id is set when it is pushed).
    addressed = {message.metadata.message_id: message.metadata.dst_node_id for message in messages}
    answered: set[int] = set()
    for reply in replies:
        node_id = reply.metadata.src_node_id
        if node_id not in node_ids:
            node_id = addressed.get(reply.metadata.reply_to_message_id, node_id)
        answered.add(node_id)
        problem = _problem_of(reply, node_id, names)
        if problem:
            problems.append(problem)
    problems += [
        f"{names.name(n)} did not answer before round 1" for n in node_ids if n not in answered
    ]
    return problems


def _problem_of(reply: Message, node_id: int, names: PartyNames) -> str:
    """A party's answer as a problem ("" when it is ready)."""
    party = names.name(node_id) if reply.has_error() else names.learn(reply)
    if reply.has_error():
        return f"{party}: {printable_reason(reply.error.reason or 'no reason given')}"
    try:
        answer = ReadinessReply.from_record(reply.content)
    except ProtocolError as problem:
        return f"{party}: a malformed answer ({problem})"
    return "" if answer.ready else f"{party}: {printable_reason(answer.party.reason)}"
