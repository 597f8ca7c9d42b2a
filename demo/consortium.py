"""The demo consortium: three institutions prepared on the bundled data set.

Layout written under the output directory (a stable contract):

    institutions/<name>/data/customers.csv   the institution's raw table, with the
                                             (synthetic) identities it really holds
    institutions/<name>/data/consent.csv     its customers' consent records
    institutions/<name>/keys/                its pseudonymization keys (owner-only)
    institutions/<name>/node.toml            its node config
    institutions/<name>/state/               its privacy state and de-identification reports
    institutions/<name>/keys/ledger/         its ledger signing key (Ed25519, owner-only)
    consortium/consortium_test.csv           the model owner's test set (features and
                                             label only: no identifiers)
    consortium/ledger_keys.toml              the consortium's key list: each institution's
                                             ledger public key, for audits
    consortium/model_owner/ed25519.pem       the model owner's signing key (every node's
                                             policy lists its public key)
    federation.toml                          which node config each simulated node plays
    runs/<run-id>/                           one directory per training run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fedscore.clients.consortium_setup import owner_identity, write_ledger_keys
from fedscore.clients.federation import FederationManifest
from fedscore.core.run_request import OwnerIdentity
from fedscore.core.runconfig import RunConfig
from fedscore.core.tabular import write_table
from fedscore.datasets import default_task_path
from fedscore.datasets.market import CONSENT, CUSTOMER_KEY, INSTITUTIONS, split_market
from fedscore.demo.identities import IDENTITY_COLUMNS, add_identities
from fedscore.demo.institutions import write_institution
from fedscore.server.settings import ServerSettings

#: The demo's one model owner: signs every run request; every institution lists it.
OWNER = "model_owner"


@dataclass(frozen=True)
class DemoFederation:
    """Paths of a prepared demo consortium.

    Attributes:
        root: the output directory everything is under.
        manifest_path: the federation manifest (which node config each node plays).
        consortium_test: the model owner's test set.
        runs_dir: where runs are written.
        ledger_keys: the consortium's key list (each institution's ledger public key).
        owner: the model owner who signs the runs.
    """

    root: Path
    manifest_path: Path
    consortium_test: Path
    runs_dir: Path
    ledger_keys: Path
    owner: OwnerIdentity

    @property
    def manifest(self) -> FederationManifest:
        """The federation manifest, loaded."""
        return FederationManifest.load(self.manifest_path)

    def institution(self, name: str) -> Path:
        """The folder of institution `name`."""
        return self.root / "institutions" / name

    def run_settings(self, run: RunConfig, show_progress: bool = True) -> ServerSettings:
        """A new run of every institution on the bundled task, signed by the model owner.

        Args:
            run: the run configuration.
            show_progress: draw a progress bar and the final summary table.

        Returns:
            The server settings of the run (evaluated on the consortium test set).
        """
        parties = len(self.manifest.node_configs)
        return ServerSettings.new_run(
            run, default_task_path(), self.runs_dir, parties, self.consortium_test, show_progress
        ).signed_by(self.owner)


def prepare_demo(root: str | Path) -> DemoFederation:
    """Write the institutions' tables, consent records, keys, node configs and the manifest.

    Deterministic: existing node state and keys are kept and the tables come out
    byte-identical, so a rerun spends from the same budgets, as at a real institution.

    Args:
        root: the output directory (see the module's layout).

    Returns:
        The prepared consortium.

    Raises:
        ConfigError: Faker (the `demo` extra) is not installed.
    """
    root = Path(root).resolve()
    market = add_identities(split_market())
    consortium = root / "consortium"
    owner, owner_public_key = owner_identity(consortium, OWNER)
    model_owners = {OWNER: owner_public_key}
    node_configs = [
        write_institution(
            root / "institutions" / institution.name, institution, market, model_owners
        )
        for institution in INSTITUTIONS
    ]
    keys_path = write_ledger_keys(node_configs, consortium / "ledger_keys.toml")
    test_path = consortium / "consortium_test.csv"
    model_columns = [
        c
        for c in market.consortium_test.columns
        if c not in (CUSTOMER_KEY, *IDENTITY_COLUMNS, CONSENT)
    ]
    write_table(market.consortium_test[model_columns], test_path)
    manifest_path = root / "federation.toml"
    FederationManifest(tuple(node_configs)).save(manifest_path)
    return DemoFederation(root, manifest_path, test_path, root / "runs", keys_path, owner)
