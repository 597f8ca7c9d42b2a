"""The JSON Schema of every configuration document, for editors and CI checks.

Each document fedscore reads is a strict pydantic model; its JSON Schema lets an editor
complete and check a TOML file (e.g. with taplo's `#:schema` directive or an editor's
TOML schema settings) before fedscore ever reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fedscore.core.files import write_bytes_atomic


def _node_config() -> dict[str, Any]:
    from fedscore.clients.node_document import NodeDocument

    return NodeDocument.model_json_schema()


def _server_config() -> dict[str, Any]:
    from fedscore.deployment.superlink import ServerDocument

    return ServerDocument.model_json_schema()


def _run_config() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from fedscore.core.runconfig import RunConfig

    return TypeAdapter(RunConfig).json_schema()


def _task_schema() -> dict[str, Any]:
    from fedscore.core.schema import schema_json_schema

    return schema_json_schema()


def _scoring_config() -> dict[str, Any]:
    from fedscore.scoring.config import ScoringConfig

    return ScoringConfig.model_json_schema()


def _decision_strategy() -> dict[str, Any]:
    from fedscore.decisions.strategy import StrategyDocument

    return StrategyDocument.model_json_schema()


def _monitoring_rules() -> dict[str, Any]:
    from fedscore.monitoring.rules import MonitoringFile

    return MonitoringFile.model_json_schema()


#: Document name → (what it is, its JSON Schema).
DOCUMENTS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "node-config": ("an institution's node config (node.toml)", _node_config),
    "server-config": ("the coordinator's server.toml", _server_config),
    "run-config": ("a run config ([run] table of `fedscore train --config`)", _run_config),
    "task-schema": ("a task schema (datasets/tasks/*.toml)", _task_schema),
    "scoring-config": ("a scoring config (scoring/configs/*.toml)", _scoring_config),
    "decision-strategy": (
        "a decision strategy (decisions/strategies/*.toml)",
        _decision_strategy,
    ),
    "monitoring-rules": (
        "monitoring rules (`fedscore monitor --rules`, monitoring/default_rules.toml)",
        _monitoring_rules,
    ),
}


def export_schemas(out_dir: Path) -> list[Path]:
    """Write `<name>.schema.json` for every document into `out_dir`; returns the files."""
    written = []
    for name, (description, schema_of) in DOCUMENTS.items():
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema_of()}
        document.setdefault("description", f"fedscore: {description}")
        text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        written.append(write_bytes_atomic(out_dir / f"{name}.schema.json", text.encode("utf-8")))
    return written
