"""Every Flower internal fedscore uses, in one place, checked against one Flower version.

fedscore is written against Flower's public API: `flwr.app` (records, `Message`,
`Context`, `MessageType`, `Error`), `flwr.serverapp` (`ServerApp`, `Grid`, strategies),
`flwr.clientapp` (`ClientApp`, its built-in mods) and `flwr.simulation.run_simulation`.
What that API does not offer uses Flower internals, which any Flower release may move or
change. They are imported in this package and nowhere else; each submodule's docstring
says, per name, what fedscore uses it for and why no public API does it:

- `secure_aggregation`: SecAgg+, which Flower 1.42 has only on its legacy stack, and the
  legacy types it speaks.
- `clientapp`: the types of a ClientApp mod and the wire objects of a message.
- `runtime`: Flower's runtime API, as fedscore's own executor and task runners speak it.
- `supernode`: Flower's SuperNode command and the module globals fedscore shortens.
- `fab`: building a FAB (Flower app bundle) byte for byte as `flwr run` does.
- `serialization`: Flower's serialization of a RecordDict (the packed wire form).

`tests/test_flower_compat.py` checks that no other fedscore module imports a Flower
internal, and that each one here still has the shape fedscore relies on, so that a
Flower upgrade fails there, naming the internal, rather than deep in a run.

Importing this package (and so any of its submodules) fails with `FlowerVersionError`
unless the installed Flower is `FLOWER_VERSION`, the one all of the above was checked
against.
"""

from __future__ import annotations

import flwr

#: The Flower release every internal in this package was checked against.
FLOWER_VERSION = "1.42.0"


class FlowerVersionError(ImportError):
    """The installed Flower is not the release fedscore's use of its internals was checked with."""


def check_flower_version(installed: str) -> None:
    """Refuse a Flower release other than `FLOWER_VERSION`.

    Args:
        installed: the version of the installed Flower (`flwr.__version__`).

    Raises:
        FlowerVersionError: `installed` is not `FLOWER_VERSION`.
    """
    if installed != FLOWER_VERSION:
        raise FlowerVersionError(
            f"fedscore's use of Flower internals was checked against flwr {FLOWER_VERSION}, "
            f"but flwr {installed} is installed. Install flwr=={FLOWER_VERSION} (as "
            f"pyproject.toml pins it), or, to move to flwr {installed}: check every internal "
            f"listed in fedscore/core/flower_compat/ (folder core/flower_compat/) against "
            f"that release, run tests/test_flower_compat.py, then raise FLOWER_VERSION."
        )


check_flower_version(flwr.__version__)
