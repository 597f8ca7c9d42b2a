"""Proof that no personal information leaves a node.

Three institutions train two rounds with every outgoing reply captured as the
objects Flower sends over the wire. Everything captured, and everything in the
server's run directory, is scanned with the PII detectors and searched for every
raw customer key, ID number, name, mobile and card number of the parties: zero hits.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from leak_scan import assert_nothing_personal, captured_replies

pytestmark = pytest.mark.simulation


def test_nothing_personal_leaves_any_node(tmp_path, market, make_node):
    tables = {name: market.parties[name].head(3000) for name in market.parties}
    nodes = [
        make_node(tmp_path / name, name, table, capture_outgoing=True)
        for name, table in tables.items()
    ]
    work = tmp_path / "work"
    args = [
        sys.executable,
        "-m",
        "fedscore.cli.main",
        "train",
        "--rounds",
        "2",
        "--workdir",
        str(work),
    ]
    for node in nodes:
        args += ["--node", str(node)]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]

    sent = captured_replies(nodes)
    (run_dir,) = (work / "runs").iterdir()
    received = [p for p in run_dir.rglob("*") if p.is_file()]
    # 3 parties × (2 training replies, the second with round 1's evaluation, + the final
    # evaluation), each several wire objects.
    assert len({p.parent for p in sent}) == 9
    assert any(p.name.startswith("Array-") for p in sent)  # simulation sends them unpacked
    assert_nothing_personal([*sent, *received], list(tables.values()))
