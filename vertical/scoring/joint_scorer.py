"""The bank's scoring with a vertical model: both halves, or the declared fallback.

For a customer (by the bank's own customer key) the bank finds its usable row and, if
the customer is shared in the run, its join key; it adds its own contribution (its
sub-model of the run, computed at start-up for every shared customer) to the
facilitator's, fetched over mutual TLS (`partial_service`) within a deadline, and
answers σ(sum). Without the facilitator's part — the customer is not shared, or the
call fails: deadline, unreachable, TLS refused either way, NOT_FOUND, another model —
it answers from the fallback (`fallback`: the bank-only model) and says so and why.

The bank checks that the service it reached is the run's facilitator: the server's
certificate must be the consortium CA's and name the facilitator of the run's terms
(`ssl_target_name_override`), whatever address it was reached at.

A customer whose row the bank may not use (unknown key, no valid consent for the joint
purpose today) is not scored: `score` raises, `score_book` leaves the probability empty.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt
import pandas as pd

from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.files import write_private
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.roles import Role
from fedscore.vertical.scoring.fallback import FallbackModel
from fedscore.vertical.scoring.generated import vertical_scoring_pb2 as pb
from fedscore.vertical.scoring.generated import vertical_scoring_pb2_grpc
from fedscore.vertical.scoring.partial_service import MAX_BATCH
from fedscore.vertical.scoring.shared_rows import load_shared_rows
from fedscore.vertical.scoring.tls import TlsFiles

LOGGER = logging.getLogger(__name__)

NOT_SHARED = "not a shared customer"
NOT_USABLE = "not scorable: unknown customer key, or no valid consent for the joint purpose"
#: Why the facilitator's part is missing, by the call's status.
REASONS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.DEADLINE_EXCEEDED: "the facilitator did not answer within the deadline",
    grpc.StatusCode.UNAVAILABLE: "the facilitator is unreachable (down, or TLS refused)",
    grpc.StatusCode.PERMISSION_DENIED: "the facilitator refused the bank's certificate",
    grpc.StatusCode.NOT_FOUND: "the facilitator does not hold this customer",
    grpc.StatusCode.FAILED_PRECONDITION: "the facilitator serves another run",
}
ANOTHER_MODEL = "the facilitator answered with another model or a value out of range"
#: gRPC's reconnection backoff, so a facilitator back up is used again within seconds.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
#: The columns of `score_book`'s frame.
BOOK_COLUMNS = (
    "customer_key",
    "probability",
    "used_fallback",
    "reason",
    "bank_model",
    "facilitator_model",
)


class CustomerNotScorable(FedscoreError):
    """The bank may not score this customer with the joint purpose's models."""


@dataclass(frozen=True)
class JointScore:
    """One customer's score.

    Attributes:
        probability: P(default).
        used_fallback: whether it is the bank-only fallback's, not the joint model's.
        reason: why the fallback answered ("" when the joint model did).
        bank_model: the bank's model version: its half of the run, or the fallback.
        facilitator_model: the facilitator's model version ("" with the fallback).
    """

    probability: float
    used_fallback: bool
    reason: str
    bank_model: str
    facilitator_model: str


class JointScorer:
    """The bank's scorer of one vertical run (see the module).

    Args:
        config: the bank's vertical config.
        run_id: the finished run whose model scores.
        facilitator_address: host:port of the facilitator's partial-score service.
        tls: the bank's TLS files (consortium CA, its certificate and key).
        deadline_ms: how long one customer's call to the facilitator may take.
        fallback: the declared bank-only model (`fallback.load_fallback`).
        batch_deadline_ms: how long one batch call (up to 10,000 customers) may take.
        today: the date consent is checked on (default: today, UTC).

    Raises:
        ConfigError: the node is not the run's bank, the run cannot score (see
            `load_shared_rows`), the deadline is not positive or the TLS files unreadable.
    """

    def __init__(
        self,
        config: VerticalNodeConfig,
        run_id: str,
        facilitator_address: str,
        tls: TlsFiles,
        deadline_ms: float,
        fallback: FallbackModel,
        batch_deadline_ms: float = 30_000.0,
        today: date | None = None,
    ) -> None:
        if config.role is not Role.LABEL_HOLDER:
            raise ConfigError(f"{config.party} is the feature holder; the bank scores")
        if not (deadline_ms > 0 and batch_deadline_ms > 0):
            raise ConfigError("the deadlines must be positive numbers of milliseconds")
        shared = load_shared_rows(config, run_id, today)
        self.run_id = run_id
        self.facilitator = shared.terms.feature_holder
        self.bank_model = shared.model_version
        self.fallback = fallback
        self.deadline = deadline_ms / 1000
        self.batch_deadline = batch_deadline_ms / 1000
        position = np.full(len(shared.table.customer_keys), -1, dtype=np.int64)
        position[shared.rows] = np.arange(len(shared.rows))
        self._index: dict[str, tuple[int, int]] = {
            key: (row, int(position[row]))
            for row, key in enumerate(shared.table.customer_keys)
            if key in shared.consented_keys
        }
        self._join_keys = shared.join_keys
        self._own = shared.contributions
        self._fallback_probability = fallback.probabilities(shared.table.features)
        options = [("grpc.ssl_target_name_override", self.facilitator), *CHANNEL_OPTIONS]
        self._channel = grpc.secure_channel(
            facilitator_address, tls.channel_credentials(), options=options
        )
        self._stub = vertical_scoring_pb2_grpc.PartialScoreStub(self._channel)

    def __enter__(self) -> JointScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Connect to the facilitator now; whether it answered the TLS handshake in time."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True

    def score(self, customer_key: str) -> JointScore:
        """The customer's P(default): joint when possible, else the fallback's, with why.

        Raises:
            CustomerNotScorable: the bank may not use the customer's row (see the module).
        """
        entry = self._index.get(customer_key)
        if entry is None:
            raise CustomerNotScorable(NOT_USABLE)
        row, position = entry
        if position < 0:
            return self._from_fallback(row, NOT_SHARED)
        request = pb.ContributionRequest(run_id=self.run_id, join_key=self._join_keys[position])
        try:
            reply = self._stub.Contribution(request, timeout=self.deadline)
        except grpc.RpcError as error:
            return self._from_fallback(row, _reason(error))
        if not self._accepts(reply.model_version, np.asarray([reply.contribution])):
            return self._from_fallback(row, ANOTHER_MODEL)
        logit = np.asarray([self._own[position] + reply.contribution])
        return JointScore(
            float(_sigmoid(logit)[0]), False, "", self.bank_model, reply.model_version
        )

    def score_book(self, customer_keys: Sequence[str], output: Path | None = None) -> pd.DataFrame:
        """Score many customers through the batch call; one row each, in the given order.

        Args:
            customer_keys: the bank's customer keys.
            output: a Parquet file to write the frame to as well (owner-only).

        Returns:
            A frame of `BOOK_COLUMNS`; an unusable customer's probability is NaN.
        """
        count = len(customer_keys)
        rows = np.full(count, -1, dtype=np.int64)
        positions = np.full(count, -1, dtype=np.int64)
        for i, key in enumerate(customer_keys):
            entry = self._index.get(key)
            if entry is not None:
                rows[i], positions[i] = entry
        probability = np.full(count, np.nan)
        reason = np.where(rows < 0, NOT_USABLE, "").astype(object)
        bank_model = np.full(count, "", dtype=object)
        facilitator_model = np.full(count, "", dtype=object)
        # Per customer: why the fallback scores it ("": it does not).
        why = np.where((rows >= 0) & (positions < 0), NOT_SHARED, "").astype(object)
        shared = np.flatnonzero(positions >= 0)
        for start in range(0, len(shared), MAX_BATCH):
            chunk = shared[start : start + MAX_BATCH]
            wanted = positions[chunk]
            request = pb.ContributionsRequest(
                run_id=self.run_id, join_keys=[self._join_keys[p] for p in wanted]
            )
            try:
                reply = self._stub.Contributions(request, timeout=self.batch_deadline)
            except grpc.RpcError as error:
                why[chunk] = _reason(error)
                continue
            values = np.asarray(reply.contributions, dtype=np.float64)
            found = np.asarray(reply.found, dtype=bool)
            if not (
                len(values) == len(found) == len(chunk)
                and self._accepts(reply.model_version, values[found])
            ):
                why[chunk] = ANOTHER_MODEL
                continue
            why[chunk[~found]] = REASONS[grpc.StatusCode.NOT_FOUND]
            joined = chunk[found]
            probability[joined] = _sigmoid(self._own[wanted[found]] + values[found])
            bank_model[joined] = self.bank_model
            facilitator_model[joined] = reply.model_version
        used = why != ""
        probability[used] = self._fallback_probability[rows[used]]
        reason[used] = why[used]
        bank_model[used] = self.fallback.version
        frame = pd.DataFrame(
            dict(
                zip(
                    BOOK_COLUMNS,
                    [list(customer_keys), probability, used, reason, bank_model, facilitator_model],
                    strict=True,
                )
            )
        )
        if output is not None:
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            write_private(output, buffer.getvalue())
        return frame

    def _from_fallback(self, row: int, reason: str) -> JointScore:
        probability = float(self._fallback_probability[row])
        return JointScore(probability, True, reason, self.fallback.version, "")

    def _accepts(self, version: str, values: npt.NDArray[np.float64]) -> bool:
        """Whether a reply is of the run's facilitator model, with finite values."""
        return version.startswith(f"{self.run_id}:") and bool(np.isfinite(values).all())


def _reason(error: grpc.RpcError) -> str:
    code = error.code() if isinstance(error, grpc.Call) else None
    if isinstance(error, grpc.Call):
        LOGGER.info("partial score failed: %s: %s", code, error.details())
    if code is None:
        return "the facilitator's partial score failed"
    return REASONS.get(code, f"the facilitator's partial score failed ({code.name})")


def _sigmoid(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """σ, as the run's own evaluation computes it (float64)."""
    with np.errstate(over="ignore"):
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
    return result
