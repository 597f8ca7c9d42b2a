"""Command-line interface: `fedscore demo`, `fedscore train`."""
