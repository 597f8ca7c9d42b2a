"""Private set intersection of two parties' identifiers (ECDH over ristretto255)."""
