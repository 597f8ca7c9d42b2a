"""What a node sent, searched for personal information (test helper, not product code).

Used by the simulated proof (`test_nothing_leaves.py`) and the deployed run over TLS
(`test_deployment.py`), where every reply travels packed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedscore.clients.node import NodeConfig
from fedscore.privacy.pii import scan_file

PERSONAL_COLUMNS = ("customer_id", "id_number", "name", "mobile", "card_number")


def captured_replies(node_configs: list[Path]) -> list[Path]:
    """Every wire object the nodes' outgoing capture wrote (`[audit] capture_outgoing`)."""
    return [
        path
        for config in node_configs
        for path in (NodeConfig.from_toml(config).state_dir / "outgoing").rglob("*.bin")
    ]


def assert_nothing_personal(paths: list[Path], tables: list[pd.DataFrame]) -> None:
    """No PII detector fires on any file, and no raw personal value of `tables` is in one."""
    personal = {
        str(value).encode("utf-8")
        for table in tables
        for column in PERSONAL_COLUMNS
        for value in table[column]
    }
    for path in paths:
        blob = path.read_bytes()
        hits = scan_file(path)
        assert not any(hits.values()), f"{path}: PII detectors fired: {hits}"
        leaked = [value for value in personal if value in blob]
        assert not leaked, f"{path}: {len(leaked)} raw personal value(s) found"
