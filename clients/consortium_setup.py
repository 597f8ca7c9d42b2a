"""A whole consortium from one CSV per party and a task schema (`fedscore init`).

Layout written under the consortium folder (the demo's, `fedscore.demo.consortium`):

    institutions/<name>/node.toml            each party's node config (its table stays
                                             where it is; the config points at it)
    institutions/<name>/keys/<purpose>/      its pseudonymization key ring (owner-only)
    institutions/<name>/keys/ledger/         its ledger signing key (Ed25519, owner-only)
    institutions/<name>/state/               its privacy state (made at the first run)
    consortium/ledger_keys.toml              every party's ledger public key, for audits
    consortium/model_owner/ed25519.pem       the model owner's signing key (every node's
                                             policy lists its public key)
    federation.toml                          which node config each simulated node plays
    consortium.toml                          the task, the owner, the federation: what
                                             `fedscore train --consortium` reads

Everything is checked before anything is written, and every problem is listed at once.
A rerun keeps the keys (and so the budgets already spent).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from fedscore.clients.federation import FederationManifest
from fedscore.clients.node import NodeConfig
from fedscore.clients.party_setup import check_party_name, write_party_node
from fedscore.core.documents import write_text_atomic
from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.run_request import OwnerIdentity, check_safe_name
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.signing import SigningKey
from fedscore.core.untrusted_documents import parse_toml
from fedscore.privacy.consent_basis import ConsentBasis

#: The file `fedscore init` writes and `fedscore train --consortium` reads.
CONSORTIUM_FILE = "consortium.toml"
#: The default model owner's name.
DEFAULT_OWNER = "model_owner"


def owner_identity(consortium: Path, name: str) -> tuple[OwnerIdentity, str]:
    """The model owner `name`, its key under `consortium/<name>/` created on first use.

    Returns:
        The owner and its public key (hex), for the nodes' `[policy] model_owners`.
    """
    check_safe_name(name, "the model owner's name")
    owner = OwnerIdentity(name, consortium / name / "ed25519.pem")
    return owner, SigningKey.load_or_create(owner.key).public_hex


def write_ledger_keys(node_configs: list[Path], path: Path) -> Path:
    """Each node's ledger key (created on first use) and the consortium's list of them.

    Args:
        node_configs: the parties' node configs.
        path: the key list written (`ledger_keys.toml`: party → public key hex, what
            audits trust).

    Returns:
        `path`.
    """
    keys: dict[str, str] = {}
    for config in node_configs:
        node = NodeConfig.from_toml(config)
        keys[node.party] = SigningKey.load_or_create(node.ledger_key).public_hex
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, tomli_w.dumps({"ledger_keys": keys}))


@dataclass(frozen=True)
class ConsortiumPlan:
    """What `fedscore init` is asked to create.

    Attributes:
        root: the consortium folder.
        task: the task schema file.
        parties: each party's name → its table (CSV or Parquet).
        consents: a party's name → its consent table, for the parties that have one.
        basis: the basis of processing declared for every party without a consent table
            (None: each needs a consent table or the schema's consent column).
        max_epsilon: each party's budget per data version.
        owner: the model owner's name.
    """

    root: Path
    task: Path
    parties: dict[str, Path]
    consents: dict[str, Path]
    basis: ConsentBasis | None
    max_epsilon: float
    owner: str = DEFAULT_OWNER

    def home(self, party: str) -> Path:
        """The folder of `party`."""
        return self.root / "institutions" / party

    def problems(self, schema: TaskSchema) -> list[str]:
        """Every reason the plan is unsafe or cannot work (empty: none).

        Args:
            schema: the task, loaded from `task`.
        """
        found: list[str] = []
        if not self.parties:
            found.append("name at least one party (--party NAME=FILE)")
        found += [
            f"--consent names no --party institution: {name}"
            for name in sorted(set(self.consents) - set(self.parties))
        ]
        tables: dict[Path, str] = {}
        for name, table in self.parties.items():
            found += [f"party {name!r}: {p}" for p in self._party_problems(name, table, schema)]
            if table in tables:
                found.append(f"parties '{tables[table]}' and '{name}' are given the same table")
            tables.setdefault(table, name)
        return found

    def _party_problems(self, name: str, table: Path, schema: TaskSchema) -> list[str]:
        try:
            check_party_name(name)
        except ConfigError as error:
            return [str(error)]
        found: list[str] = []
        for other in self.parties:
            if other != name and table.is_relative_to(self.home(other)):
                found.append(f"its table {table} is inside the folder of party '{other}'")
        files = [table, *([self.consents[name]] if name in self.consents else [])]
        for file in files:
            if not file.is_file():
                found.append(f"no such file: {file}")
            elif self.root.is_relative_to(file.parent):
                found.append(
                    f"the consortium folder {self.root} is inside the folder of {file}: keys "
                    "must be kept apart from data; choose --out outside it"
                )
        if found:
            return found
        return found + self._consent_problems(name, table, schema)

    def _consent_problems(self, name: str, table: Path, schema: TaskSchema) -> list[str]:
        from fedscore.core.tabular import read_table

        column = schema.consent
        in_table = column is not None and column.name in read_table(table, max_rows=1).columns
        if name in self.consents:
            if schema.deidentification.per_row:
                return [
                    "a consent table is matched on the customer key, and the task has none "
                    '(privacy_unit = "row"): use --consent-basis instead'
                ]
            return []
        if self.basis is not None and in_table:
            return [
                f"its table holds the consent column '{column.name if column else ''}' and "
                "--consent-basis declares a basis for every row: one consent source, not both"
            ]
        if self.basis is None and not in_table:
            return [
                "no consent source: give --consent NAME=FILE (its consent records), a consent "
                "column in the task schema, or --consent-basis with --legal-basis (consent "
                "collected outside the table)"
            ]
        return []


def init_consortium(plan: ConsortiumPlan) -> Path:
    """Create every party's node (keys, config, consent wiring), the owner and the manifests.

    Returns:
        The consortium file (`consortium.toml`).

    Raises:
        FedscoreError: the task schema is invalid, or the plan is unsafe or cannot work
            (every problem listed; nothing is written then).
    """
    schema = load_schema(plan.task)
    problems = plan.problems(schema)
    if problems:
        raise FedscoreError(
            "fedscore init refused:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
    consortium = plan.root / "consortium"
    owner, public_key = owner_identity(consortium, plan.owner)
    node_configs = [
        write_party_node(
            plan.home(name),
            name,
            table,
            plan.task,
            plan.max_epsilon,
            consent=plan.consents.get(name),
            basis=None if name in plan.consents else plan.basis,
            model_owners={owner.name: public_key},
        )
        for name, table in plan.parties.items()
    ]
    write_ledger_keys(node_configs, consortium / "ledger_keys.toml")
    manifest = plan.root / "federation.toml"
    FederationManifest(tuple(node_configs)).save(manifest)
    return ConsortiumFile(plan.task, owner, manifest).save(plan.root / CONSORTIUM_FILE)


@dataclass(frozen=True)
class ConsortiumFile:
    """`consortium.toml`: what a run of the consortium needs besides the nodes' own files.

    Attributes:
        task: the task schema.
        owner: the model owner who signs the runs (every node's policy lists it).
        manifest: the federation manifest (each party's node config).
    """

    task: Path
    owner: OwnerIdentity
    manifest: Path

    def save(self, path: Path) -> Path:
        """Write the file (paths relative to its folder when under it); returns `path`."""
        document = {
            "task": str(self.task),
            "federation": _relative(self.manifest, path.parent),
            "owner": {"name": self.owner.name, "key": _relative(self.owner.key, path.parent)},
        }
        return write_text_atomic(path, tomli_w.dumps(document))

    @classmethod
    def load(cls, folder: Path) -> ConsortiumFile:
        """The consortium `fedscore init` made in `folder`.

        Raises:
            ConfigError: no consortium file there, or an unreadable one.
        """
        path = folder / CONSORTIUM_FILE
        try:
            document = parse_toml(path.read_text(encoding="utf-8"))
            owner = OwnerIdentity(document["owner"]["name"], folder / document["owner"]["key"])
            return cls(folder / document["task"], owner, folder / document["federation"])
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path}: no such file; create the consortium with 'fedscore init'"
            ) from exc
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: not a consortium file ({exc})") from exc


def _relative(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
