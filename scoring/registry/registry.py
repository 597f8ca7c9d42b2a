"""The model registry: finished runs as versioned, signed, self-contained models.

Layout of a registry folder (owner-only: it holds the registry's signing key):

    registry.sqlite                 the index (models, production changes)
    keys/registry_ed25519.pem       the registry's Ed25519 signing key (0600, folder
                                    0700): only register, promote and rollback open it
    keys/registry_ed25519.pub       its public key (hex): all that scoring needs
    models/<version>/               a signed bundle: the run's copy, its model card and
                                    development profile, their manifest and its
                                    signature (see `bundle`)

Scoring loads only from the registry's copy, after checking the signature with the
public key and every file's hash, so deleting or editing the original run directory
changes nothing; listing shows the signed card.json of each bundle, never the index's
copy of it. Two roles (see `keys`): the registry's owner signs, scorers verify.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.artifact import load_model
from fedscore.core.errors import ConfigError
from fedscore.core.signing import public_hex
from fedscore.scoring.config import ScoringConfig, load_scoring_config
from fedscore.scoring.registry.bundle import (
    RUN_COPY,
    read_development,
    seal,
    stage_run,
    verify_bundle,
)
from fedscore.scoring.registry.card import ModelCard
from fedscore.scoring.registry.errors import RegistryError
from fedscore.scoring.registry.index import IndexEntry, RegistryIndex
from fedscore.scoring.registry.keys import (
    create_signing_key,
    load_public_key,
    load_signing_key,
    registration_key,
)
from fedscore.scoring.registry.production import (
    PRODUCTION,
    production_version,
    resolve_version,
    rollback_target,
)
from fedscore.scoring.registry.registered import CheckedCard, RegisteredModel

__all__ = ["PRODUCTION", "CheckedCard", "ModelRegistry", "RegisteredModel", "RegistryError"]


class ModelRegistry:
    """A folder of registered models.

    Opening one reads nothing and creates nothing; verifying and loading need only the
    registry's public key, while registering, promoting and rolling back open its
    signing key. Which version is in production: `production`.

    Attributes:
        root: the registry folder.
        index: its index (registry.sqlite).
    """

    def __init__(self, root: str | Path) -> None:
        """Open the registry at `root` (nothing is read or created yet).

        Args:
            root: the registry folder.
        """
        self.root = Path(root)
        self.index = RegistryIndex(self.root / "registry.sqlite")
        self._public_key: Ed25519PublicKey | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The registry's public key, which every bundle's signature must verify with.

        Raises:
            RegistryError: the public key file is missing or malformed.
        """
        if self._public_key is None:
            self._public_key = load_public_key(self.root)
        return self._public_key

    @property
    def public_hex(self) -> str:
        """The registry's public key in hex, as keys/registry_ed25519.pub holds it."""
        return public_hex(self.public_key)

    # -- the registry's owner -------------------------------------------------------

    def init(self) -> str:
        """Create the registry (owner-only) and its signing key; returns the public key.

        Raises:
            RegistryError: the registry already has a key (keys are never replaced).
        """
        signer = create_signing_key(self.root)
        self._public_key = signer.public_key
        return signer.public_hex

    def register(
        self,
        run_dir: str | Path,
        keys: str | Path,
        development: str | Path | None = None,
        config: ScoringConfig | None = None,
    ) -> ModelCard:
        """Register a finished run as the next version of its task.

        The run is copied first; the card, the development profile and the signature
        are made from the copy, so what is signed is what was checked.

        Args:
            run_dir: the run directory (needs model/, summary.json, run_config.json,
                ledger_heads.json).
            keys: the consortium's key list (TOML, `[ledger_keys]` party = hex) that each
                party's signed ledger entries are verified with; the card's data versions,
                ε and δ come from those entries.
            development: the development data (features and label, no identifiers) whose
                mean is the reason-code baseline and whose scores are the PSI reference;
                default: the run's consortium test set (run_config.json).
            config: the scoring configuration whose scorecard and PSI bins shape the
                stored score distribution (default: the bundled one).

        Raises:
            ConfigError: not a finished run, an unreadable key list, or no development data.
            RegistryError: the registry key is missing, a signed ledger entry does not
                verify, or summary.json disagrees with the signed entries.
        """
        run_dir = Path(run_dir)
        if not (run_dir / "summary.json").is_file():
            raise ConfigError(f"{run_dir}: not a finished run directory (no summary.json)")
        signer = registration_key(self.root, has_models=bool(self.index.entries()))
        self._public_key = signer.public_key
        models = self.root / "models"
        models.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".registering-", dir=models))
        try:
            card, number = stage_run(
                run_dir,
                staging,
                Path(keys),
                self.index.next_number,
                Path(development) if development else None,
                config or load_scoring_config(),
            )
            manifest_sha256, signature = seal(staging, signer)
            folder = models / card.version
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        bundle = folder.relative_to(self.root).as_posix()
        entry = IndexEntry(card.version, card.task, manifest_sha256, signature, bundle)
        self.index.add(number, card, entry)
        return card

    # -- reading --------------------------------------------------------------------

    def checked_cards(self) -> list[CheckedCard]:
        """Every registered version's signed card, or why it does not verify.

        By task then version number; the cards come from the bundles (card.json, under
        the registry key's signature), never from the index's copy.

        Raises:
            RegistryError: models are registered but the registry's public key is missing.
        """
        entries = self.index.entries()
        if entries:
            self.public_key  # noqa: B018 - without it nothing verifies: say so once
        checked: list[CheckedCard] = []
        for entry in entries:
            try:
                checked.append(CheckedCard(entry.version, self.card(entry.version)))
            except RegistryError as error:
                checked.append(CheckedCard(entry.version, None, str(error)))
        return checked

    def card(self, version: str) -> ModelCard:
        """A version's signed model card, after verifying its bundle.

        Raises:
            RegistryError: naming what does not verify.
        """
        entry = self.entry(version)
        return verify_bundle(self.root / entry.bundle, entry, self.public_key)

    def production(self, task: str) -> str | None:
        """The version in production for `task`, or None."""
        return production_version(self.index, task)

    def resolve(self, version: str) -> str:
        """A version name, or "production" (or "<task>@production") → the version.

        Raises:
            RegistryError: the alias names no single task, or none of it is in production.
        """
        return resolve_version(self.index, version)

    def entry(self, version: str) -> IndexEntry:
        found = self.index.entry(self.resolve(version))
        if found is None:
            known = ", ".join(entry.version for entry in self.index.entries()) or "none"
            raise RegistryError(f"no registered model '{version}' (registered: {known})")
        return found

    def verify(self, version: str) -> IndexEntry:
        """Check a version's bundle with the registry's public key; returns its entry.

        Raises:
            RegistryError: naming what does not verify.
        """
        entry = self.entry(version)
        verify_bundle(self.root / entry.bundle, entry, self.public_key)
        return entry

    def load(self, version: str) -> RegisteredModel:
        """A version, verified, from the registry's own copy (card and profile as signed)."""
        entry = self.entry(version)
        folder = self.root / entry.bundle
        card = verify_bundle(folder, entry, self.public_key)
        return RegisteredModel(
            card, load_model(folder / RUN_COPY), read_development(folder), folder
        )

    # -- production -----------------------------------------------------------------

    def promote(self, version: str) -> str:
        """Put a version (verified first) into production for its task; returns it."""
        load_signing_key(self.root)  # only the registry's owner changes production
        entry = self.verify(version)
        task, name = entry.task, entry.version
        if self.production(task) == name:
            raise RegistryError(f"{name} is already in production")
        self.index.record_stage(task, "promote", name)
        return name

    def rollback(self, task: str | None = None) -> str:
        """Put back the task's previous production version; returns it.

        Args:
            task: the task; may be omitted when the registry holds one task.
        """
        load_signing_key(self.root)  # only the registry's owner changes production
        task, previous = rollback_target(self.index, task)
        self.verify(previous)
        self.index.record_stage(task, "rollback", previous)
        return previous
