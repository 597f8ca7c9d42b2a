"""The gRPC scoring service (protos/scoring.proto): servicer, server, client."""

from fedscore.scoring.grpc_api.client import ScoringClient
from fedscore.scoring.grpc_api.server import (
    SERVICE_NAME,
    ScoringServer,
    ServeSettings,
    default_workers,
)
from fedscore.scoring.grpc_api.service import FIELDS_METADATA, ScoringService

__all__ = [
    "FIELDS_METADATA",
    "SERVICE_NAME",
    "ScoringClient",
    "ScoringServer",
    "ScoringService",
    "ServeSettings",
    "default_workers",
]
