"""Scoring customers with a registered joint model: registry, score semantics, service, batch.

Layout:

    config.py        ScoringConfig (TOML): scorecard scaling, grade cut-offs and actions,
                     reason codes, PSI
    scorecard.py     probability of default → score points (offset − factor·ln(odds))
    grades.py        score points → risk grade A–D and its configured action
    features.py      which encoded columns belong to which raw feature
    reasons/         attribution methods by name: exact linear contributions (LR),
                     integrated gradients (MLP)
    errors.py        a refused request: which field and why, never the value
    identifiers.py   refusing requests that carry a direct identifier
    record.py        one customer's fields → validated, encoded vector (the fast path)
    psi.py           score distributions and the population stability index
    development.py   the development population's profile stored at registration
    scorer.py        a registered model + config → scores, grades, reasons
    registry/        versioned, signed model registry (SQLite index, Ed25519 manifests)
    batch/           streaming CSV/Parquet scoring of a whole book
    grpc_api/        the gRPC service (protos/scoring.proto), server and client
"""

from fedscore.scoring.config import ScoringConfig, load_scoring_config
from fedscore.scoring.registry import ModelRegistry, RegisteredModel
from fedscore.scoring.scorer import Scorer, ScoreResult

__all__ = [
    "ModelRegistry",
    "RegisteredModel",
    "ScoreResult",
    "Scorer",
    "ScoringConfig",
    "load_scoring_config",
]
