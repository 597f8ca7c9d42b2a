"""The data cache as the pre-round-1 check of every simulated party fills it.

`fedscore train` asks every party, before Flower starts, whether it can take part
(`fedscore.simulation.check_inputs`), and a run that cannot start leaves nothing behind:
no run folder and no node state folder. The check still de-identifies each table, which
the simulated nodes' rounds would otherwise do again, so it loads through the cache but
stages the entries it computes in a private temporary folder: `commit` moves them into
the nodes' state folders once every party is ready, and leaving the `with` block without
`commit` discards them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fedscore.clients.data_cache import PartyDataCache, write_entry
from fedscore.clients.local_data import PartyData


class StagedPartyDataCache(PartyDataCache):
    """A `PartyDataCache` that writes nothing to a state folder before `commit`.

    Entries already in a state folder are used as usual (and, unusable, left in place:
    a committed entry replaces them). Use it as a context manager: the staging folder
    (owner-only, in the system's temporary folder) is removed on leaving the block.
    """

    removes_unusable = False

    def __init__(self) -> None:
        super().__init__()
        self._staging = Path(tempfile.mkdtemp(prefix="fedscore-data-cache-"))
        self._pending: list[tuple[Path, Path]] = []

    def store(self, path: Path, key: dict[str, str], data: PartyData) -> None:
        """Stage the entry for `path` (moved there by `commit`)."""
        staged = self._staging / f"{len(self._pending)}.npz"
        write_entry(staged, key, data)
        if staged.exists():
            self._pending.append((staged, path))

    def commit(self) -> None:
        """Move every staged entry into its node's state folder (each whole, owner-only)."""
        for staged, path in self._pending:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path.parent, 0o700)
            try:
                staged.replace(path)
            except OSError:  # another file system: copy beside the entry, then rename
                descriptor, name = tempfile.mkstemp(
                    prefix=f".{path.name}.", suffix=".partial", dir=path.parent
                )
                os.close(descriptor)
                try:
                    shutil.copyfile(staged, name)
                    Path(name).replace(path)
                finally:
                    Path(name).unlink(missing_ok=True)
        self._pending.clear()

    def __enter__(self) -> StagedPartyDataCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)
