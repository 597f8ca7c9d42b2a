"""`fedscore` command line entry point (`python -m fedscore.cli.main` runs it too)."""

from __future__ import annotations

import sys

from fedscore.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the `fedscore` command line and exit with its status."""
    sys.exit(app())


if __name__ == "__main__":
    main()
