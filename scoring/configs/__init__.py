"""Bundled scoring configurations (TOML)."""
