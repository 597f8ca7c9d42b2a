"""`fedscore demo`: a three-institution consortium on the bundled data set.

Layout written under the output directory (a stable contract):

    institutions/<name>/data/customers.csv   the institution's raw table
    institutions/<name>/node.toml            its node config
    institutions/<name>/state/               its privacy state (accountants)
    consortium/consortium_test.csv           the model owner's test set
    federation.toml                          which node config each simulated node plays
    runs/<run-id>/                           one directory per training run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomli_w

from fedscore.clients.federation import FederationManifest
from fedscore.core.tabular import write_table
from fedscore.datasets.market import INSTITUTIONS, split_market

# The demo's budgets per data version: room for a few runs at epsilon 1 each.
DEMO_MAX_EPSILON = {"large_bank": 4.0, "city_bank": 4.0, "loan_facilitator": 3.0}


@dataclass(frozen=True)
class DemoFederation:
    """Paths of a prepared demo consortium."""

    root: Path
    manifest_path: Path
    consortium_test: Path
    runs_dir: Path

    @property
    def manifest(self) -> FederationManifest:
        return FederationManifest.load(self.manifest_path)


def prepare_demo(root: str | Path) -> DemoFederation:
    """Write the institutions' tables, node configs and the manifest (deterministic).

    Existing node state is kept: the tables come out byte-identical, so a rerun
    spends from the same budgets, as it would at a real institution.
    """
    root = Path(root).resolve()
    split = split_market()
    node_configs: list[Path] = []
    for institution in INSTITUTIONS:
        home = root / "institutions" / institution.name
        (home / "data").mkdir(parents=True, exist_ok=True)
        write_table(split.parties[institution.name], home / "data" / "customers.csv")
        config = home / "node.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "node": {
                        "party": institution.name,
                        "display_name": institution.display_name,
                        "kind": institution.kind,
                        "data": "data/customers.csv",
                        "state_dir": "state",
                    },
                    "privacy": {"max_epsilon": DEMO_MAX_EPSILON[institution.name]},
                }
            ),
            encoding="utf-8",
        )
        node_configs.append(config)
    consortium = root / "consortium"
    consortium.mkdir(parents=True, exist_ok=True)
    test_path = consortium / "consortium_test.csv"
    write_table(split.consortium_test, test_path)
    manifest_path = root / "federation.toml"
    FederationManifest(tuple(node_configs)).save(manifest_path)
    return DemoFederation(root, manifest_path, test_path, root / "runs")
