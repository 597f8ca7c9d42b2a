"""A party's privacy accountant: the full history of its DP-SGD steps on one data version.

The history (noise multiplier, sample rate, steps) is the accountant's whole
state; epsilon is recomputed from it by Opacus' accountants, so restoring the
history restores epsilon exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from opacus.accountants import create_accountant

HistoryEntry = tuple[float, float, int]

# Opacus' default RDP orders stop at 63; heavily-noised, short runs (ours) reach their
# best bound at higher orders, so we search further. More orders only tighten RDP.
RDP_ORDERS: tuple[float, ...] = (
    *(1 + x / 10.0 for x in range(1, 100)),
    *range(11, 64),
    80,
    96,
    128,
    160,
    192,
    256,
    320,
    384,
    512,
    768,
    1024,
)


def accountant_options(mechanism: str) -> dict[str, object]:
    """Keyword arguments of `get_epsilon` for the named Opacus accountant."""
    return {"alphas": list(RDP_ORDERS)} if mechanism == "rdp" else {}


@dataclass(frozen=True)
class EpsilonReport:
    """Epsilon spent so far, by each accountant, at one delta.

    Attributes:
        rdp: Rényi-DP accountant (conservative; the compliance figure by default).
        prv: privacy-loss-random-variable accountant (tight); None where it could not
            be computed, in which case `note` says why.
        delta: the delta both figures are for.
        note: an explanation when a figure is missing or infinite.
    """

    rdp: float
    prv: float | None
    delta: float
    note: str = ""

    def by(self, mechanism: str) -> float:
        """The figure of the named accountant (falls back to RDP when PRV failed)."""
        if mechanism == "prv" and self.prv is not None:
            return self.prv
        return self.rdp


@dataclass
class PartyAccountant:
    """DP-SGD history of one party on one data version, across rounds, runs and restarts.

    Attributes:
        history: (noise multiplier, sample rate, steps) entries, merged when consecutive
            steps share their parameters (the format of Opacus' accountants).
        non_private_steps: steps trained without noise; any makes epsilon infinite.
    """

    history: list[HistoryEntry] = field(default_factory=list)
    non_private_steps: int = 0

    @property
    def steps(self) -> int:
        return sum(entry[2] for entry in self.history)

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record `steps` DP-SGD steps with the given mechanism parameters."""
        if steps <= 0:
            return
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            last = self.history[-1]
            self.history[-1] = (last[0], last[1], last[2] + steps)
        else:
            self.history.append((float(noise_multiplier), float(sample_rate), int(steps)))

    def projected(self, noise_multiplier: float, sample_rate: float, steps: int) -> PartyAccountant:
        """A copy with `steps` more steps: what epsilon would be if the round ran."""
        copy = PartyAccountant(list(self.history), self.non_private_steps)
        copy.step(noise_multiplier, sample_rate, steps)
        return copy

    def epsilon(self, delta: float, mechanism: str) -> float:
        """Epsilon by one accountant ("rdp" or "prv"); may raise for PRV corner cases."""
        if self.non_private_steps:
            return math.inf
        if not self.history:
            return 0.0
        accountant = create_accountant(mechanism=mechanism)
        accountant.history = list(self.history)
        return float(accountant.get_epsilon(delta=delta, **accountant_options(mechanism)))

    def report(self, delta: float) -> EpsilonReport:
        """Epsilon by both accountants, each labelled."""
        if self.non_private_steps:
            note = f"{self.non_private_steps} non-private step(s) were taken: no DP guarantee"
            return EpsilonReport(math.inf, math.inf, delta, note)
        rdp = self.epsilon(delta, "rdp")
        try:
            prv: float | None = self.epsilon(delta, "prv")
        except (ValueError, RuntimeError, OverflowError, FloatingPointError) as exc:
            return EpsilonReport(rdp, None, delta, f"PRV accountant failed ({exc}); RDP shown")
        return EpsilonReport(rdp, prv, delta)

    def state_dict(self) -> dict[str, object]:
        return {
            "history": [list(entry) for entry in self.history],
            "non_private_steps": self.non_private_steps,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, object]) -> PartyAccountant:
        stored_history = state.get("history", [])
        non_private_steps = state.get("non_private_steps", 0)
        if not isinstance(stored_history, list) or not isinstance(non_private_steps, int):
            raise ValueError(
                "accountant state: 'history' must be a list, 'non_private_steps' an int"
            )
        history = [(float(n), float(q), int(s)) for n, q, s in stored_history]
        return cls(history, non_private_steps)
