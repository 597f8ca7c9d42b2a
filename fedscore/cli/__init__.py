"""Command-line interface (`fedscore ...`): `app` assembles one module per command group."""
