"""Vertical test helpers: asking a node's real handler directly, as a relay would; who the
intersection must hold."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from flwr.app import Message, Metadata

from fedscore.demo.vertical import VerticalDemo
from fedscore.vertical.messages import MESSAGE_TYPE, StageReply, StageRequest
from fedscore.vertical.node_app import answer_message
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.psi.identifiers import normalize_resident_id


def ask(config_path: Path, request: StageRequest) -> StageReply:
    """The node's reply to `request`, through `node_app.answer_message` (no Flower between)."""
    metadata = Metadata(
        run_id=1,
        message_id="relay",
        src_node_id=1,
        dst_node_id=2,
        reply_to_message_id="",
        group_id="1",
        created_at=time.time(),
        ttl=3600.0,
        message_type=MESSAGE_TYPE,
    )
    config = VerticalNodeConfig.from_toml(config_path)
    reply = answer_message(config, Message(request.to_record(), metadata=metadata))
    return StageReply.from_record(reply.content)


def consented_at_both(data: VerticalDemo) -> set[str]:
    """The normalized resident IDs of the people both parties hold with valid consent for
    the joint purpose today: what the intersection must be."""
    bank = _consented(data.bank_table, data.bank_consent, "customer_id", "id_number")
    return bank & _consented(data.facilitator_table, data.facilitator_consent, "user_id", "id_card")


def _consented(table_path: Path, consent_path: Path, key: str, identifier: str) -> set[str]:
    table = pd.read_csv(table_path, dtype=str)
    consent = pd.read_csv(consent_path, dtype=str)
    consent = consent[consent["purpose"] == "joint_risk_control"]
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    granted = pd.to_datetime(consent["granted_at"]) <= today
    expired = pd.to_datetime(consent["expires_at"]).le(today).fillna(False)
    withdrawn = pd.to_datetime(consent["withdrawn_at"]).le(today).fillna(False)
    valid = set(consent[granted & ~expired & ~withdrawn][key])
    rows = table[table[key].isin(valid)]
    return {normalize_resident_id(value) for value in rows[identifier]} - {None}
