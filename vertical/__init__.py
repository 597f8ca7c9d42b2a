"""Vertical federated learning: a bank and a loan facilitator model their shared customers.

The same applicants, two institutions: the bank holds the repayment outcome (the label)
and its own credit columns, the facilitator the behaviour its platform observes. Neither
hands the other a row, an identifier or a label:

- `psi`: which customers both hold (with valid consent for the joint purpose at both), by
  an ECDH private set intersection over ristretto255; the relay sees ciphertext and sizes.
- `channel`: the end-to-end encrypted, signed channel between the two parties (X25519 +
  ChaCha20-Poly1305) through the coordinator, since Flower has no node-to-node link.
- `training`: an additive split model, each party's sub-model trained with DP-SGD on its
  own columns, the bank's labels released once under label DP.
"""
