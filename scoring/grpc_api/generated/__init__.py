"""Code generated from protos/scoring.proto by `make protos` (do not edit)."""
