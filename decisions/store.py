"""Decision strategies in the model registry: versioned next to their model, signed with it.

Layout under a registry folder (beside `models/`):

    strategies/<model version>/<strategy name>-<strategy version>/
        <champion>.toml       the strategy file as registered (and its challenger's file)
        binding.json          the model version and its manifest's SHA-256, the strategy's
                              name, version and champion file
        manifest.json         SHA-256 of every file above
        manifest.sig          the registry key's signature of the manifest

A strategy is registered for one model version, after it compiled against that model, and
sealed like a model bundle (`fedscore.scoring.registry.bundle.seal`): the binding names the
model's signed manifest, so a strategy cannot be moved to another model, and no file can
change, appear or vanish without the signature failing. Versions are never replaced.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fedscore.core.documents import write_json
from fedscore.decisions.decider import Decider
from fedscore.scoring.registry import ModelRegistry, RegistryError
from fedscore.scoring.registry.bundle import SIGNATURE, check_sealed, read_manifest, seal
from fedscore.scoring.registry.keys import load_signing_key
from fedscore.scoring.scorer import Scorer

STRATEGIES = "strategies"
BINDING = "binding.json"


@dataclass(frozen=True)
class StrategyBinding:
    """What a registered strategy is bound to (its binding.json).

    Attributes:
        model_version: the model version it decides with.
        model_manifest_sha256: that version's signed manifest (from the registry index).
        strategy, version: the strategy's name and version.
        champion: the champion's file name in the folder.
    """

    model_version: str
    model_manifest_sha256: str
    strategy: str
    version: str
    champion: str

    @property
    def name(self) -> str:
        """The strategy's registered name, "<strategy>-<version>"."""
        return f"{self.strategy}-{self.version}"


class StrategyStore:
    """The decision strategies of a model registry.

    Args:
        registry: the model registry (its signing key signs, its public key verifies).
    """

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def register(self, model_version: str, path: str | Path, scorer: Scorer) -> StrategyBinding:
        """Check a strategy file (and its challenger's) against a model; seal it in the registry.

        Args:
            model_version: the model's version (or "production", "<task>@production").
            path: the champion's strategy file.
            scorer: the model's scorer (its schema and grades are what rules are checked with).

        Raises:
            ConfigError: the strategy does not compile against the model.
            RegistryError: no such model, no signing key, or this version already registered.
        """
        entry = self.registry.verify(model_version)
        loaded = Decider.load(scorer, path).strategy
        info = loaded.champion.info
        binding = StrategyBinding(
            entry.version, entry.manifest_sha256, info.name, info.version, Path(path).name
        )
        folder = self._folder(entry.version) / binding.name
        if folder.exists():
            raise RegistryError(f"{binding.name} is already registered for {entry.version}")
        signer = load_signing_key(self.registry.root)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".registering-", dir=folder.parent))
        try:
            for file in loaded.files:
                shutil.copyfile(file, staging / file.name)
            write_json(staging / BINDING, binding.__dict__)
            seal(staging, signer)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return binding

    def names(self, model_version: str) -> list[str]:
        """The registered strategies of a model version ("<name>-<version>"), sorted."""
        folder = self._folder(self.registry.resolve(model_version))
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")

    def verified(self, model_version: str, name: str) -> tuple[StrategyBinding, Path]:
        """A registered strategy's binding and champion file, after verifying both.

        Args:
            model_version: the model version (or a production alias).
            name: the strategy's registered name, "<strategy>-<version>".

        Raises:
            RegistryError: unknown, the signature or a file does not verify, or it is bound
                to another model (version or manifest).
        """
        entry = self.registry.verify(model_version)
        folder = self._folder(entry.version) / name
        if not folder.is_dir():
            known = ", ".join(self.names(entry.version)) or "none"
            raise RegistryError(f"no strategy '{name}' for {entry.version} (registered: {known})")
        try:
            signature = (folder / SIGNATURE).read_text(encoding="ascii").strip()
        except OSError as exc:
            raise RegistryError(
                f"{folder}: the strategy's signature is unreadable ({exc})"
            ) from exc
        check_sealed(folder, read_manifest(folder), signature, self.registry.public_key, name)
        try:
            binding = StrategyBinding(**json.loads((folder / BINDING).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise RegistryError(f"{folder / BINDING}: unreadable ({exc})") from exc
        if (binding.model_version, binding.model_manifest_sha256) != (
            entry.version,
            entry.manifest_sha256,
        ) or binding.name != name:
            raise RegistryError(
                f"{name}: it is signed for another model or name ({binding.name} "
                f"for {binding.model_version})"
            )
        return binding, folder / binding.champion

    def decider(self, scorer: Scorer, name: str) -> Decider:
        """A decider of the scorer's model with a registered strategy (verified first).

        Args:
            scorer: the scorer of the registered model (its version names the model).
            name: the strategy's registered name, "<strategy>-<version>".
        """
        _, champion = self.verified(scorer.version, name)
        return Decider.load(scorer, champion)

    def _folder(self, model_version: str) -> Path:
        return self.registry.root / STRATEGIES / model_version
