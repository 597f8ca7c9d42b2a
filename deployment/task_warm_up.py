"""What a node's warm forkserver does once, so that no task process does it again.

fedscore's executor forks every task process from a forkserver that imported fedscore,
Flower, torch and Opacus (`executor.PRELOADED`). Importing is not all a first round
needs: torch and Opacus import further modules the first time a model is wrapped for
per-sample gradients and trained, the accountants and scipy the first time noise is
calibrated, scikit-learn's metrics the first time a model is scored. Measured in a
deployed round: a training task's handler spent about 1 s, against 0.14 s in a process
that had trained before.

`warm_up` runs each of those once, on random numbers: one DP-SGD round of the registered
models on a few random rows, a noise calibration, an epsilon report and a scoring. It
also creates (and closes, unconnected) one runtime API client: the first HTTP client of a
process sets up its SSL context and lazy imports, 20 ms on an idle machine and up to 0.1 s
under a round's load, which every task paid before talking to its SuperNode. No party's
data, key, configuration or state is read or written, and nothing is connected to.
The forkserver imports this module as its last preload; importing it runs `warm_up` (the
forkserver offers no other hook), and every task process forked afterwards starts warm.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.metrics import score_metrics
from fedscore.core.models import ModelSpec, build_model, predict_proba
from fedscore.core.models.registry import MODELS
from fedscore.core.runconfig import RunConfig
from fedscore.deployment.flower_runtime import RuntimeEndpoint
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd

#: Random rows and features of the warm-up round (small: it must take well under 1 s).
ROWS, FEATURES = 64, 8


def warm_up() -> None:
    """One small DP-SGD round per registered model, calibrated, accounted and scored."""
    rng = np.random.default_rng(0)
    features = rng.random((ROWS, FEATURES), dtype=np.float32)
    labels = (rng.random(ROWS) < 0.5).astype(np.float32)
    labels[:2] = (0.0, 1.0)  # both classes, for the scores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ClientApp trains
    try:
        for name in MODELS.names():
            run = RunConfig(model=name, rounds=1, batch_size=16, hidden=(4,))
            schedule = LocalSchedule.for_party(run, ROWS)
            accountant = PartyAccountant()
            privacy = DpSgd(schedule.calibrated_mechanism(run), accountant)
            model = build_model(ModelSpec(name, FEATURES, run.hidden, run.seed))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trained, _ = train_locally(
                    model, features, labels, run, schedule, privacy, torch.Generator()
                )
            accountant.report(schedule.delta)
            score_metrics(labels, predict_proba(trained, features))
    finally:
        torch.set_num_threads(threads)
    # A client is only a connection pool until its first call: nothing is contacted.
    RuntimeEndpoint("127.0.0.1:1", insecure=True).client("fedscore-warm-up").close()


warm_up()
