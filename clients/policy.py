"""What an institution agrees to train for: its node config's `[policy]`.

A node spends its privacy budget only on runs a model owner it lists has signed, and
only within the limits its operator set: which tasks, how much epsilon per run, per
day and per month, which strategies and models, secure aggregation or not, how many
parties at least. (Which app releases it executes is `[trust]`: `core/app_trust.py`.)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fedscore.core.runconfig import RunConfig

#: A finite, positive epsilon (TOML's inf and nan are refused).
PositiveEpsilon = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PublicKeyHex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class NodePolicy(_Strict):
    """The runs an institution accepts (`[policy]` of its node config).

    Attributes:
        model_owners: who may start runs: owner name → Ed25519 public key (hex). A node
            with owners listed, and every deployed node, trains only for requests one
            of them signed.
        tasks: task names the node trains for; empty: only its own task schema's.
        purposes: processing purposes (the task schema's `purpose`, the purpose its
            customers consented to) the node trains for; empty: any its schema states.
        max_epsilon_per_run: the most epsilon one run may ask of this node.
        max_epsilon_per_day, max_epsilon_per_month: the most epsilon the runs accepted
            in one UTC calendar day / month may ask together (each run counted with the
            epsilon it asks, on the day it was first accepted).
        strategies: aggregation strategies the node accepts; empty: any.
        models: model kinds the node accepts; empty: any.
        require_secure_aggregation: accept only runs aggregated with SecAgg+ (the
            coordinator then never sees this node's update in the clear).
        min_parties: the fewest parties a run must require per round (the smaller a
            round, the more the aggregate says about one party's update).
    """

    model_owners: dict[str, PublicKeyHex] = {}
    tasks: list[str] = []
    purposes: list[str] = []
    max_epsilon_per_run: PositiveEpsilon | None = None
    max_epsilon_per_day: PositiveEpsilon | None = None
    max_epsilon_per_month: PositiveEpsilon | None = None
    strategies: list[str] = []
    models: list[str] = []
    require_secure_aggregation: bool = False
    min_parties: int = Field(default=2, ge=1)

    @field_validator("model_owners")
    @classmethod
    def _lower_case_keys(cls, owners: dict[str, str]) -> dict[str, str]:
        return {name: key.lower() for name, key in owners.items()}

    def problems(self, run: RunConfig, task: str, own_task: str, purpose: str) -> list[str]:
        """Why this node does not accept a run of `task` with `run` (empty: it does).

        Args:
            run: the run's settings as signed by its owner.
            task: the run's task name.
            own_task: the name of the task schema this node holds.
            purpose: that schema's processing purpose.
        """
        found: list[str] = []
        if self.purposes and purpose not in self.purposes:
            found.append(f"purpose '{purpose}' is not one this node trains for")
        allowed_tasks = self.tasks or [own_task]
        if task not in allowed_tasks:
            found.append(f"task '{task}' is not one this node trains for ({allowed_tasks})")
        if self.max_epsilon_per_run is not None and run.epsilon > self.max_epsilon_per_run:
            found.append(
                f"epsilon {run.epsilon:g} per run is above this node's max_epsilon_per_run "
                f"{self.max_epsilon_per_run:g}"
            )
        if self.strategies and run.strategy not in self.strategies:
            found.append(f"strategy '{run.strategy}' is not allowed here ({self.strategies})")
        if self.models and run.model not in self.models:
            found.append(f"model '{run.model}' is not allowed here ({self.models})")
        if self.require_secure_aggregation and not run.secure_aggregation:
            found.append("this node requires secure aggregation (SecAgg+)")
        if run.min_parties < self.min_parties:
            found.append(
                f"min_parties {run.min_parties} is below this node's minimum {self.min_parties}"
            )
        return found
