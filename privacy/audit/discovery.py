"""Where audit evidence lies, and reading its JSON documents.

The evidence: institution folders, privacy-state files and run directories, and the
vertical configs of parties that take part in vertical runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedscore.core.errors import FedscoreError
from fedscore.core.untrusted_documents import JsonTooDeep, parse_json

NODE_CONFIG = "node.toml"
#: A vertical party's config (a folder holding only it is a vertical-only party).
VERTICAL_CONFIG = "vertical.toml"
RUN_SUMMARY = "summary.json"
LEDGER_HEADS = "ledger_heads.json"
#: Where a node keeps its de-identification reports, beside its privacy-state file.
REPORTS_FOLDER = "reports"


@dataclass(frozen=True)
class EvidenceSources:
    """The paths an audit reads.

    Attributes:
        institutions: institution folders (or their privacy-state files).
        runs: run directories.
        vertical: the `vertical.toml` of every party in vertical runs.
    """

    institutions: tuple[Path, ...]
    runs: tuple[Path, ...]
    vertical: tuple[Path, ...] = ()


@dataclass(frozen=True)
class InstitutionFiles:
    """The files of one institution an audit reads.

    Attributes:
        ledger_file: its node's privacy-state file (ledger and accountant state).
        party: its identifier (None: a bare privacy-state file; its entries name it).
        display_name: how reports name it ("" when not configured).
        reports_dir: the folder of its de-identification reports (None when unknown).
        own_key_file: the public key its node keeps beside its ledger key (None when
            unknown); not an independent check of the ledger.
    """

    ledger_file: Path
    party: str | None = None
    display_name: str = ""
    reports_dir: Path | None = None
    own_key_file: Path | None = None


def discover_sources(paths: Iterable[Path]) -> EvidenceSources:
    """Sort audit paths into institutions and runs; a consortium folder expands to both.

    A path may be an institution folder (holding node.toml), a node's privacy-state file,
    a run directory (holding summary.json), or a folder holding `institutions/` and
    `runs/` (as `fedscore demo` writes).

    Raises:
        FedscoreError: a path is none of these.
    """
    institutions: list[Path] = []
    runs: list[Path] = []
    vertical: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / NODE_CONFIG).is_file() or path.is_file():
            institutions.append(path)
        elif (path / RUN_SUMMARY).is_file():
            runs.append(path)
        elif (path / VERTICAL_CONFIG).is_file():
            vertical.append(path / VERTICAL_CONFIG)
        elif (path / "institutions").is_dir() or (path / "runs").is_dir() or _vertical_in(path):
            institutions += sorted(p.parent for p in path.glob(f"institutions/*/{NODE_CONFIG}"))
            runs += sorted(p.parent for p in path.glob(f"runs/*/{RUN_SUMMARY}"))
            vertical += _vertical_in(path)
        else:
            raise FedscoreError(
                f"{path}: not an institution folder (node.toml), a privacy-state file, a run "
                "directory (summary.json), a vertical party's folder (vertical.toml) or a "
                "consortium folder (institutions/, runs/)"
            )
    vertical += [config for i in institutions if (config := _institutions_vertical(i))]
    if not institutions and not runs and not vertical:
        raise FedscoreError("nothing to audit: no institution folder or run directory found")
    unique = tuple(dict.fromkeys(p.resolve() for p in vertical))
    return EvidenceSources(tuple(institutions), tuple(runs), unique)


def _vertical_in(folder: Path) -> list[Path]:
    """The vertical configs of the parties' folders right under `folder` (demo layout)."""
    return sorted(folder.glob(f"*/{VERTICAL_CONFIG}"))


def _institutions_vertical(institution: Path) -> Path | None:
    """The vertical config an institution's node.toml names (`[vertical] config`), if any."""
    from fedscore.clients.node import NodeConfig

    if not (institution / NODE_CONFIG).is_file():
        return None
    return NodeConfig.from_toml(institution / NODE_CONFIG).vertical_config


def locate_institution(path: Path, party: str | None = None) -> InstitutionFiles:
    """The files of the institution at `path`.

    Args:
        path: an institution folder (holding node.toml) or a node's privacy-state file,
            whose de-identification reports are looked for beside it.
        party: whose ledger it is (default: from node.toml, else from its entries).

    Raises:
        FedscoreError: node.toml is not a valid node config, or the privacy-state file
            does not exist.
    """
    from fedscore.clients.node import NodeConfig

    if (path / NODE_CONFIG).is_file():
        node = NodeConfig.from_toml(path / NODE_CONFIG)
        files = InstitutionFiles(
            node.accountant_db,
            party or node.party,
            node.display_name,
            node.state_dir / REPORTS_FOLDER,
            node.ledger_key.with_suffix(".pub"),
        )
    else:
        beside = path.parent / REPORTS_FOLDER
        files = InstitutionFiles(path, party, reports_dir=beside if beside.is_dir() else None)
    if not files.ledger_file.is_file():
        raise FedscoreError(f"{files.ledger_file}: no such privacy-state file")
    return files


def read_json(path: Path) -> Any:
    """The JSON document at `path`.

    Raises:
        FedscoreError: it cannot be read or is not valid JSON (naming the line).
    """
    try:
        return parse_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FedscoreError(f"{path}: cannot be read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise FedscoreError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except JsonTooDeep as exc:
        raise FedscoreError(f"{path}: not a fedscore document: it {exc}") from None
