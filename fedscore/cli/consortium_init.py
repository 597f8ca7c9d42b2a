"""`fedscore init`: a consortium from a task schema and one table per party, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.named_files import named_files
from fedscore.cli.output import or_fail, say

if TYPE_CHECKING:
    from fedscore.privacy.consent_basis import ConsentBasis

_PARTY_HELP = (
    "NAME=FILE: a party (lower-case letters, digits, '_') and its table (CSV/Parquet). "
    "Repeat per party."
)
_CONSENT_HELP = (
    "NAME=FILE: the consent records of a party (customer key, purpose, granted_at, "
    "expires_at, withdrawn_at)."
)
_BASIS_HELP = (
    "The basis of processing of every party without --consent, when consent was collected "
    "outside the table: consent, contract, human_resources, legal_obligation, public_health, "
    "public_interest, public_information or other_law (PIPL Art. 13). Needs --legal-basis."
)
_LEGAL_HELP = (
    "The text the --consent-basis rests on (where the clause or law is); recorded in every "
    "de-identification report and ledger entry."
)


def init(
    task: Annotated[Path, typer.Option(help="The task schema TOML (its purpose names the keys).")],
    party: Annotated[list[str], typer.Option(help=_PARTY_HELP)],
    out: Annotated[
        Path, typer.Option(help="The consortium folder (outside every table's folder).")
    ] = Path("consortium"),
    consent: Annotated[list[str], typer.Option(help=_CONSENT_HELP)] = [],  # noqa: B006
    consent_basis: Annotated[str | None, typer.Option(help=_BASIS_HELP)] = None,
    legal_basis: Annotated[str | None, typer.Option(help=_LEGAL_HELP)] = None,
    max_epsilon: Annotated[float, typer.Option(help="Each party's budget per data version.")] = 3.0,
) -> None:
    """Create a consortium from one table per party: keys, node configs, consent wiring.

    Also the model owner's key and the manifests; then `fedscore train --consortium OUT`
    trains it. Refuses, before writing anything, party names that could be paths, a table inside
    another party's folder, a consortium folder inside a table's folder, a party without
    consent source, and two consent sources for one party.
    """
    from fedscore.clients.consortium_setup import ConsortiumPlan, init_consortium

    def create() -> Path:
        plan = ConsortiumPlan(
            root=out.resolve(),
            task=task.resolve(),
            parties=named_files(party, "--party"),
            consents=named_files(consent, "--consent"),
            basis=_basis(consent_basis, legal_basis),
            max_epsilon=max_epsilon,
        )
        return init_consortium(plan)

    created = or_fail(create)
    say(
        f"consortium created: {created}\n"
        f"train it: fedscore train --consortium {out} --rounds N "
        "(each party's keys are under institutions/<name>/keys: keep them apart from the data)"
    )


def _basis(basis: str | None, legal_basis: str | None) -> ConsentBasis | None:
    """The declared consent basis of the options (None when neither is given)."""
    from pydantic import ValidationError

    from fedscore.core.errors import ConfigError
    from fedscore.core.typed_config import describe_errors
    from fedscore.privacy.consent_basis import ConsentBasis

    if basis is None and legal_basis is None:
        return None
    if basis is None or legal_basis is None:
        raise ConfigError("give --consent-basis and --legal-basis together")
    try:
        return ConsentBasis(basis=basis, legal_basis=legal_basis)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, ConsentBasis, "--consent-basis", "")) from exc


def register(app: typer.Typer) -> None:
    """Add `fedscore init` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("init")(init)
