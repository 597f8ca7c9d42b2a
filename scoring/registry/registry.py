"""The model registry: finished runs as versioned, signed, self-contained models.

Layout of a registry folder (keep it owner-only; it holds the registry's signing key):

    registry.sqlite                 the index (models, production changes)
    keys/registry_ed25519.pem       the registry's Ed25519 signing key (0600, folder 0700)
    keys/registry_ed25519.pub       its public key (hex)
    models/<version>/run/           copy of the run directory (model/, summary.json,
                                    metrics.json, privacy.json, ledger_heads.json, ...;
                                    the resume checkpoints are left out)
    models/<version>/card.json      the model card
    models/<version>/development.json  the development profile (reason-code baseline,
                                    score distribution for PSI, its grades)
    models/<version>/manifest.json  SHA-256 of every file above
    models/<version>/manifest.sig   the registry key's signature of the manifest

Scoring loads only from the registry's copy, after checking the signature and every
file's hash, so deleting or editing the original run directory changes nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from fedscore.core.artifact import ScoringModel, load_model
from fedscore.core.documents import write_json
from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.signing import SigningKey
from fedscore.privacy.ledger.chain import canonical
from fedscore.scoring.config import ScoringConfig, load_scoring_config
from fedscore.scoring.development import DevelopmentProfile
from fedscore.scoring.registry.card import ModelCard
from fedscore.scoring.registry.index import IndexEntry, RegistryIndex
from fedscore.scoring.registry.manifest import (
    build_manifest,
    manifest_differences,
    manifest_sha256,
)
from fedscore.scoring.scorer import Scorer

RUN_COPY = "run"
CARD = "card.json"
DEVELOPMENT = "development.json"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
#: Run-directory entries not copied: resume checkpoints (weights of unfinished rounds).
NOT_COPIED = ("checkpoint",)
PRODUCTION = "production"


class RegistryError(FedscoreError):
    """A registry operation failed: unknown version, failed verification, nothing to roll back."""


@dataclass(frozen=True)
class RegisteredModel:
    """A verified registered model.

    Attributes:
        card: its model card.
        model: the trained model (from the registry's copy).
        development: its development profile.
        folder: its folder in the registry.
    """

    card: ModelCard
    model: ScoringModel
    development: DevelopmentProfile
    folder: Path

    @property
    def version(self) -> str:
        return self.card.version

    def scorer(self, config: ScoringConfig | None = None) -> Scorer:
        """A scorer of this model (with the bundled default configuration if none given)."""
        return Scorer(self.model, self.version, self.development, config or load_scoring_config())


class ModelRegistry:
    """A folder of registered models.

    Parameters
    ----------
    root : str | Path
        The registry folder (created if absent).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.index = RegistryIndex(self.root / "registry.sqlite")
        self.signer = SigningKey.load_or_create(self.root / "keys" / "registry_ed25519.pem")

    # -- registering ----------------------------------------------------------------

    def register(
        self,
        run_dir: str | Path,
        development: str | Path | None = None,
        config: ScoringConfig | None = None,
    ) -> ModelCard:
        """Register a finished run as the next version of its task.

        Args:
            run_dir: the run directory (needs model/, summary.json, run_config.json).
            development: the development data (features and label, no identifiers) whose
                mean is the reason-code baseline and whose scores are the PSI reference;
                default: the run's consortium test set (run_config.json).
            config: the scoring configuration whose scorecard and PSI bins shape the
                stored score distribution (default: the bundled one).

        Raises:
            ConfigError: not a finished run, or no development data.
        """
        run_dir = Path(run_dir)
        config = config or load_scoring_config()
        model = load_model(run_dir)
        development_path = Path(development) if development else _consortium_test(run_dir)
        profile = DevelopmentProfile.build(model, development_path, config)
        run_manifest = build_manifest(run_dir, skip=NOT_COPIED)
        task = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["task"]
        number = self.index.next_number(task)
        version = f"{task}-v{number}"
        card = ModelCard.from_run(run_dir, version, manifest_sha256(run_manifest))
        folder = self.root / "models" / version
        staging = folder.with_name(f".{version}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(run_dir, staging / RUN_COPY, ignore=shutil.ignore_patterns(*NOT_COPIED))
        write_json(staging / CARD, card.as_dict())
        write_json(staging / DEVELOPMENT, profile.as_dict())
        manifest = build_manifest(staging)
        if {
            f"{RUN_COPY}/{name}": digest for name, digest in run_manifest.items()
        }.items() - manifest.items():
            shutil.rmtree(staging, ignore_errors=True)
            raise RegistryError(f"{run_dir}: the run directory changed while it was copied")
        signature = self.signer.sign(canonical(manifest)).hex()
        write_json(staging / MANIFEST, manifest)
        write_bytes_atomic(staging / SIGNATURE, (signature + "\n").encode("ascii"))
        staging.rename(folder)
        self.index.add(
            number,
            IndexEntry(
                card, manifest_sha256(manifest), signature, folder.relative_to(self.root).as_posix()
            ),
        )
        return card

    # -- reading --------------------------------------------------------------------

    def cards(self) -> list[ModelCard]:
        """Every registered version's card, by task then version number."""
        return [entry.card for entry in self.index.entries()]

    def production(self, task: str) -> str | None:
        """The version in production for `task`, or None."""
        stack = self.index.production_stack(task)
        return stack[-1] if stack else None

    def resolve(self, version: str) -> str:
        """A version name, or "production" (or "<task>@production") → the version."""
        task, _, alias = version.rpartition("@")
        if version == PRODUCTION or alias == PRODUCTION:
            tasks = sorted({card.task for card in self.cards()})
            if task:
                tasks = [task] if task in tasks else []
            if len(tasks) != 1:
                raise RegistryError(
                    "say which task's production model: <task>@production, with <task> one of "
                    f"{tasks or 'the registered tasks (none yet)'}"
                )
            current = self.production(tasks[0])
            if current is None:
                raise RegistryError(f"no model of task '{tasks[0]}' is in production; promote one")
            return current
        return version

    def entry(self, version: str) -> IndexEntry:
        found = self.index.entry(self.resolve(version))
        if found is None:
            known = ", ".join(card.version for card in self.cards()) or "none"
            raise RegistryError(f"no registered model '{version}' (registered: {known})")
        return found

    def verify(self, version: str) -> IndexEntry:
        """Check a version's signature and every file of its bundle; returns its entry.

        Raises:
            RegistryError: naming what does not verify.
        """
        entry = self.entry(version)
        folder = self.root / entry.bundle
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{folder / MANIFEST}: unreadable ({exc})") from exc
        if manifest_sha256(manifest) != entry.manifest_sha256:
            raise RegistryError(
                f"{entry.card.version}: its manifest differs from the registry index"
            )
        try:
            self.signer.public_key.verify(bytes.fromhex(entry.signature), canonical(manifest))
        except (InvalidSignature, ValueError) as exc:
            raise RegistryError(
                f"{entry.card.version}: the manifest's signature does not verify"
            ) from exc
        problems = manifest_differences(folder, manifest, skip=(MANIFEST, SIGNATURE))
        if problems:
            raise RegistryError(
                f"{entry.card.version}: the bundle does not match its signed manifest: "
                + "; ".join(problems[:5])
            )
        return entry

    def load(self, version: str) -> RegisteredModel:
        """A version, verified, from the registry's own copy (card and profile as signed)."""
        folder = self.root / self.verify(version).bundle
        card = ModelCard.from_dict(json.loads((folder / CARD).read_text(encoding="utf-8")))
        development = DevelopmentProfile.from_dict(
            json.loads((folder / DEVELOPMENT).read_text(encoding="utf-8"))
        )
        return RegisteredModel(card, load_model(folder / RUN_COPY), development, folder)

    # -- production -----------------------------------------------------------------

    def promote(self, version: str) -> str:
        """Put a version (verified first) into production for its task; returns it."""
        entry = self.verify(version)
        task, name = entry.card.task, entry.card.version
        if self.production(task) == name:
            raise RegistryError(f"{name} is already in production")
        self.index.record_stage(task, "promote", name)
        return name

    def rollback(self, task: str | None = None) -> str:
        """Put back the task's previous production version; returns it.

        Args:
            task: the task; may be omitted when the registry holds one task.
        """
        if task is None:
            tasks = sorted({card.task for card in self.cards()})
            if len(tasks) != 1:
                raise RegistryError(f"say which task to roll back (--task, one of {tasks})")
            task = tasks[0]
        stack = self.index.production_stack(task)
        if len(stack) < 2:
            raise RegistryError(f"task '{task}' has no earlier production model to roll back to")
        previous = stack[-2]
        self.verify(previous)
        self.index.record_stage(task, "rollback", previous)
        return previous


def _consortium_test(run_dir: Path) -> Path:
    try:
        config = json.loads((run_dir / "run_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{run_dir}: not a finished run directory ({exc})") from exc
    path = str(config.get("consortium_test") or "")
    if not path or not Path(path).is_file():
        raise ConfigError(
            f"{run_dir}: the run names no readable consortium test set; give the development "
            "data (features and label) with --development"
        )
    return Path(path)
