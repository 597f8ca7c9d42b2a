"""Creating an Ed25519 signing key (`fedscore owner keygen`, `fedscore release keygen`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.output import or_fail, say

if TYPE_CHECKING:
    from fedscore.core.signing import SigningKey

NewKeyFile = Annotated[
    Path, typer.Option(help="Where to write the new private key (PEM, owner-only: 0600).")
]


def create_signing_key(out: Path, announcement: str) -> SigningKey:
    """Create a new signing key at `out` (never over an existing file) and announce it.

    Args:
        out: where to write the private key; its public key goes beside it (.pub).
        announcement: what to print, with {out}, {public_file} and {public_hex} filled in.

    Returns:
        The new key.

    Raises:
        typer.Exit: the key cannot be created (the reason is printed; status 2).
    """
    from fedscore.core.signing import SigningKey

    key = or_fail(lambda: SigningKey.create(out))
    public_file = out.with_suffix(".pub")
    say(announcement.format(out=out, public_file=public_file, public_hex=key.public_hex))
    return key
