"""Scoring with a vertical model: the bank's score needs the facilitator's half.

- `partial_service`: the facilitator's gRPC service (mutual TLS, for the run's bank
  only) answering its contribution f_fac(x) for a run's pseudonymous join key;
- `joint_scorer`: the bank's scorer: its own contribution plus the facilitator's,
  fetched within a deadline, or the declared fallback with the reason; batch scoring
  of a book through the same pair;
- `fallback`: the declared bank-only model (DP-SGD, charged to the bank's budget);
- `shared_rows`: a finished run's contributions for every shared customer at a node;
- `tls`: the parties' TLS certificates under the consortium CA.
"""
