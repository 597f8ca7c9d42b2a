"""Code generated from protos/vertical_scoring.proto by `make protos` (do not edit)."""
