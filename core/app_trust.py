"""Which app releases a deployed party executes: `[trust]` of a node or coordinator config.

In deployment every party (each institution's node, and the coordinator) executes only
app releases its operator approved, by the release's content hash or by a consortium
release-signing key. fedscore's own task runner checks this before any code of the app
could run (`deployment/app_approval.py`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

PublicKeyHex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
AppHash = Annotated[str, Field(pattern=r"^(sha256:)?[0-9a-fA-F]{64}$")]


class AppTrust(BaseModel):
    """Which app releases a deployed node executes (`[trust]` of its node config).

    Attributes:
        approved_apps: SHA-256 hashes of the approved releases (Flower FABs), as
            `fedscore release build` prints them ("sha256:<hex>" or the bare hex).
        release_keys: consortium release-signing keys, name → Ed25519 public key (hex):
            a release signed by one of them is approved too.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    approved_apps: list[AppHash] = []
    release_keys: dict[str, PublicKeyHex] = {}

    @property
    def approved_hashes(self) -> frozenset[str]:
        """The approved FAB hashes as bare lower-case hex."""
        return frozenset(app.lower().removeprefix("sha256:") for app in self.approved_apps)

    @property
    def configured(self) -> bool:
        """Whether anything is approved at all (a deployed node needs it)."""
        return bool(self.approved_apps or self.release_keys)

    @field_validator("release_keys")
    @classmethod
    def _lower_case_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        return {name: key.lower() for name, key in keys.items()}
