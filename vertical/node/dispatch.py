"""Which stage function answers which relay request, and the role each stage needs."""

from __future__ import annotations

from collections.abc import Callable

from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node import psi_stages, training_stages
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.roles import Role

StageHandler = Callable[[VerticalNodeConfig, StageRequest], StageReply]

#: Every stage's handler, and the one role it is for (None: both).
STAGES: dict[Stage, tuple[StageHandler, Role | None]] = {
    Stage.ADMIT: (psi_stages.admit_run, None),
    Stage.PSI_START: (psi_stages.psi_start, None),
    Stage.PSI_ANSWER: (psi_stages.psi_answer, None),
    Stage.PSI_FINISH: (psi_stages.psi_finish, None),
    Stage.SETUP: (training_stages.setup, None),
    Stage.FORWARD: (training_stages.forward, Role.FEATURE_HOLDER),
    Stage.STEP: (training_stages.step, Role.LABEL_HOLDER),
    Stage.EVALUATE: (training_stages.evaluate, None),
    Stage.CLOSE: (psi_stages.close_run, None),
}


def answer(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """This node's reply to `request` (a stage meant for the other role is refused)."""
    handler, role = STAGES[request.stage]
    if role is not None and role is not config.role:
        reason = f"{config.party} is the {config.role.value}; '{request.stage.value}' is not for it"
        return StageReply(config.party, Outcome.FAILED, reason)
    return handler(config, request)
