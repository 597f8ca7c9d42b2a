"""A model owner's signed request to run one training run, as every party verifies it.

A run spends every institution's privacy budget, so an institution trains only for a
request signed by a model owner it lists, over the exact settings it will train with:
the run, its task schema, the app release, the number of parties. The coordinator
carries the request to the nodes unchanged (in Flower's run config and in every
round's instructions); it cannot alter a setting without breaking the signature.

The signature covers `canonical_json` of the request, and the request's hash (the
"run-request hash" that ledger entries name) is the SHA-256 of the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import (
    SigningKey,
    canonical_json,
    public_key_from_hex,
    signature_valid,
)

# SAFE_NAME_PATTERN is re-exported: the vertical request and node config import it from here.
from fedscore.core.typed_config import SAFE_NAME_PATTERN as SAFE_NAME_PATTERN
from fedscore.core.typed_config import SAFE_NAME_RULE

#: The run-config key (Flower) and round-config key (fedscore) carrying the request.
RUN_REQUEST_KEY = "run-request"
FORMAT = "fedscore-run-request/1"
#: How far a request's issue time may lie in a verifier's future (clock skew).
CLOCK_SKEW = timedelta(minutes=5)

SafeName = Annotated[str, Field(pattern=SAFE_NAME_PATTERN)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
PublicKeyHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
SignatureHex = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class CoordinatorOptions(_Strict):
    """Where the coordinator keeps the run's results and what it tests the model on.

    Attributes:
        runs_dir: the coordinator's folder of run directories (its own path).
        consortium_test: the consortium test table on the coordinator, if any.
        task_schema: the task schema file on the coordinator ("": the bundled one).
        round_timeout: seconds the coordinator waits for a round's replies.
    """

    runs_dir: str = ""
    consortium_test: str = ""
    task_schema: str = ""
    round_timeout: float = Field(default=900.0, gt=0, allow_inf_nan=False)


class ReleaseAttestation(_Strict):
    """The release statement of the app the run uses, with the consortium's signatures.

    See `fedscore.deployment.release`; it lets a node approve an app by release key.
    """

    statement: dict[str, str]
    signatures: list[dict[str, str]]


class RunRequest(_Strict):
    """What a model owner asks every party to do, field by field.

    Attributes:
        format: the request format's version.
        run_id: the run's identifier (its run directory's name); a request accepted for
            a run binds that run to these terms at every node.
        owner: the model owner's name in the consortium's lists.
        issued_at, expires_at: when the request was signed, and until when a node
            accepts rounds of it (UTC).
        app_sha256: the SHA-256 of the app release (Flower FAB) the run must use; None
            for a run without a release (simulation on one machine).
        release: the release statement and signatures of that app, if the owner has it.
        task: the task schema's name.
        schema_sha256: the task schema file's SHA-256.
        parties: how many institutions the run waits for.
        run: every training setting (`RunConfig.as_dict`).
        coordinator: the coordinator's own options for this run.
    """

    format: Literal["fedscore-run-request/1"] = "fedscore-run-request/1"
    run_id: SafeName
    owner: SafeName
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    app_sha256: Sha256Hex | None = None
    release: ReleaseAttestation | None = None
    task: SafeName
    schema_sha256: Sha256Hex
    parties: int = Field(ge=1)
    run: dict[str, Any]
    coordinator: CoordinatorOptions = CoordinatorOptions()

    def run_config(self) -> RunConfig:
        """The training settings as the parties train with them.

        Raises:
            ConfigError: a setting is unknown or invalid.
        """
        return RunConfig.from_mapping(dict(self.run))

    def terms(self) -> bytes:
        """What binds a run: everything but when the request was signed and expires.

        A run can be resumed with a re-signed request (a new expiry) but never with
        other terms.
        """
        return canonical_json(self.model_dump(mode="json", exclude={"issued_at", "expires_at"}))

    def terms_sha256(self) -> str:
        return hashlib.sha256(self.terms()).hexdigest()


class SignedRunRequest(_Strict):
    """A run request, the owner's public key and the owner's signature of it.

    Attributes:
        request: the request.
        public_key: the owner's Ed25519 public key (hex).
        signature: the Ed25519 signature of `canonical_json(request)` (hex).
    """

    request: RunRequest
    public_key: PublicKeyHex
    signature: SignatureHex

    @property
    def sha256(self) -> str:
        """The run-request hash: SHA-256 of the signed bytes."""
        return hashlib.sha256(_signed_bytes(self.request)).hexdigest()

    def encode(self) -> str:
        """The transport form (canonical JSON text)."""
        return canonical_json(self.model_dump(mode="json")).decode("utf-8")

    @classmethod
    def decode(cls, text: str) -> SignedRunRequest:
        """Parse the transport form strictly.

        Raises:
            ConfigError: not a signed run request (names the first wrong fields).
        """
        try:
            return cls.model_validate_json(text, strict=True)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'request'}: {error['msg']}"
                for error in exc.errors()[:5]
            )
            raise ConfigError(f"malformed run request ({problems})") from exc

    def verify(self, owners: dict[str, str], now: datetime | None = None) -> str:
        """Check the signature, the signer and the validity window; return the owner.

        Args:
            owners: the model owners the verifier trusts, name → public key (hex).
            now: the time to check against (default: the current time).

        Raises:
            ConfigError: why the request cannot be trusted.
        """
        listed = owners.get(self.request.owner)
        if listed is None or listed.strip().lower() != self.public_key:
            raise ConfigError(
                f"run request signed as '{self.request.owner}' by a key that is not a "
                "model owner's key listed here"
            )
        key = public_key_from_hex(self.public_key)
        if not signature_valid(key, _signed_bytes(self.request), bytes.fromhex(self.signature)):
            raise ConfigError(
                f"run request of '{self.request.owner}': the signature does not verify"
            )
        moment = now or datetime.now(UTC)
        if self.request.issued_at - CLOCK_SKEW > moment:
            raise ConfigError(f"run request {self.request.run_id} is issued in the future")
        if moment > self.request.expires_at:
            raise ConfigError(
                f"run request {self.request.run_id} expired at "
                f"{self.request.expires_at:%Y-%m-%d %H:%M} UTC; the owner must sign it again"
            )
        return self.request.owner


def app_mismatch(named: str | None, running: str | None) -> str:
    """Why a request naming app `named` does not fit a task running `running` ("" if it does).

    Args:
        named: the app release (sha256 hex) the signed request names (None: no release).
        running: the release the deployment's task runner verified for this task (None:
            not deployed, nothing to compare).
    """
    if running is None or named == running:
        return ""
    shown = f"sha256:{named}" if named else "no app"
    return f"the request names {shown}, but this task runs sha256:{running}"


def check_safe_name(value: str, what: str) -> str:
    """`value` if it can name a folder or file safely.

    Raises:
        ConfigError: it could not (the value itself is not repeated: it may be anything).
    """
    if not re.fullmatch(SAFE_NAME_PATTERN, value):
        raise ConfigError(f"{what} must be {SAFE_NAME_RULE}")
    return value


@dataclass(frozen=True)
class OwnerIdentity:
    """Who starts a run.

    Attributes:
        name: the owner's name, as institutions' `[policy] model_owners` list it.
        key: the owner's Ed25519 private key file (`fedscore owner keygen`).
    """

    name: str
    key: Path

    def sign(self, request: RunRequest) -> SignedRunRequest:
        return sign_run_request(request, SigningKey.load(self.key))

    def request(self, run_id: str, hours: float, **terms: Any) -> SignedRunRequest:
        """A request for run `run_id` with `terms`, signed now and valid for `hours`.

        Args:
            run_id: the run's identifier.
            hours: how long the request is valid.
            terms: the other `RunRequest` fields (task, schema_sha256, parties, run, ...).

        Raises:
            ConfigError: `hours` not > 0, or an unreadable key.
        """
        issued, expires = request_window(hours)
        return self.sign(
            RunRequest(
                run_id=run_id, owner=self.name, issued_at=issued, expires_at=expires, **terms
            )
        )


def sign_run_request(request: RunRequest, key: SigningKey) -> SignedRunRequest:
    """The request signed with the model owner's key."""
    return SignedRunRequest(
        request=request,
        public_key=key.public_hex,
        signature=key.sign(_signed_bytes(request)).hex(),
    )


def request_window(hours: float, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(issued_at, expires_at) of a request valid for `hours` from now, to the second."""
    if not hours > 0:
        raise ConfigError("a run request must be valid for more than 0 hours")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    return issued, issued + timedelta(hours=hours)


def _signed_bytes(request: RunRequest) -> bytes:
    return canonical_json(request.model_dump(mode="json"))
