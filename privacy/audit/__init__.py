"""Empirical privacy audits (canaries)."""
