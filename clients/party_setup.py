"""Setting up an institution's node from its table alone (`fedscore train --party`).

Everything a node needs besides its table is created beside the node config: its
pseudonymization key ring for the task's purpose and its ledger key (owner-only, in a
`keys/` folder apart from the data), the node config pointing at the table and, when
given, the institution's consent records or its declared consent basis. A node config
already there is rewritten with the same keys, so a rerun spends from the same budget.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomli_w

from fedscore.clients.node import NodeConfig
from fedscore.clients.node_document import PARTY_NAME_PATTERN
from fedscore.core.documents import write_text_atomic
from fedscore.core.errors import ConfigError
from fedscore.core.schema import load_schema
from fedscore.privacy.consent_basis import ConsentBasis
from fedscore.privacy.keys import KeyRing


def check_party_name(party: str) -> str:
    """`party` if it can name an institution (and its folder).

    Raises:
        ConfigError: it cannot (the name is not repeated: it may be anything).
    """
    if not re.fullmatch(PARTY_NAME_PATTERN, party):
        raise ConfigError(
            "an institution's name must be lower-case letters, digits and '_', starting "
            "with a letter (it names folders)"
        )
    return party


def write_party_node(
    home: Path,
    party: str,
    table: Path,
    task: Path,
    max_epsilon: float,
    allow_non_private: bool = False,
    consent: Path | None = None,
    basis: ConsentBasis | None = None,
    model_owners: dict[str, str] | None = None,
) -> Path:
    """The node config of `party` under `home` (created with its keys); returns its path.

    Args:
        home: the institution's folder (node config, keys, state).
        party: the institution's name.
        table: its raw customer table.
        task: the task schema (its purpose names the key ring).
        max_epsilon: its budget per data version.
        allow_non_private: whether it takes part in non-private runs.
        consent: its consent records (None: the task schema's consent column, or `basis`).
        basis: the basis of processing declared for every row (`[consent]`), when its
            consent was collected outside any table.
        model_owners: the model owners whose signed runs it accepts (name → public key
            hex; None: unsigned runs, as in simulation).

    Raises:
        FedscoreError: an invalid name, budget or schema (checked by reading the config
            back), or keys that cannot be created.
    """
    check_party_name(party)
    home.mkdir(parents=True, exist_ok=True)
    keys = KeyRing(home / "keys", load_schema(task).purpose)
    if not keys.exists():
        keys.init(party)
    deidentification = {"key_dir": "keys"}
    if consent is not None:
        deidentification["consent_table"] = str(consent)
    document: dict[str, Any] = {
        "node": {"party": party, "data": str(table), "task": str(task)},
        "privacy": {"max_epsilon": max_epsilon, "allow_non_private": allow_non_private},
        "deidentification": deidentification,
    }
    if basis is not None:
        document["consent"] = basis.recorded()
    if model_owners:
        document["policy"] = {"model_owners": model_owners}
    config = home / "node.toml"
    write_text_atomic(config, tomli_w.dumps(document))
    NodeConfig.from_toml(config)  # every setting checked as a node would
    return config
