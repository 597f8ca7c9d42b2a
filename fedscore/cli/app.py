"""The `fedscore` command line, assembled from one module per command group.

Importing it loads no machine-learning or Flower library: every command imports what
it needs when it runs, so `fedscore --help` and a group's `--help` answer at once.
"""

from __future__ import annotations

import typer

from fedscore.cli import (
    audit,
    consortium_init,
    decisions,
    demo,
    keys,
    models,
    monitor,
    parties,
    release,
    runs,
    schemas,
    scoring,
    train,
    vertical,
)

app = typer.Typer(
    help="fedscore: privacy-preserving federated credit scoring (Flower + Opacus).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# In the order `fedscore --help` lists them.
for group in (
    demo,
    consortium_init,
    train,
    vertical,
    keys,
    audit,
    parties,
    runs,
    models,
    scoring,
    decisions,
    monitor,
    release,
    schemas,
):
    group.register(app)
