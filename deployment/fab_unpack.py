"""A FAB's files on disk: unpacked so that Flower rebuilds exactly the same FAB.

`flwr run` builds the FAB it submits from a folder; `submittable_copy` unpacks an
approved release into one and checks that Flower rebuilds it byte for byte, so the run
submits the release the parties approved.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import zipfile
from pathlib import Path

from fedscore.core.errors import ConfigError

#: Flower's own metadata inside a FAB (the CONTENT manifest), rebuilt by Flower.
FAB_INFO_DIR = ".info/"
#: The most an unpacked FAB may hold (Flower caps the zip itself at 10 MB).
MAX_UNPACKED_BYTES = 100 * 1024 * 1024


def app_file_count(fab: bytes) -> int:
    """The app's files in `fab`: every entry but Flower's `.info/` metadata.

    Args:
        fab: the FAB's bytes.

    Returns:
        The number of app files (pyproject.toml included).
    """
    with zipfile.ZipFile(io.BytesIO(fab)) as archive:
        return sum(not name.startswith(FAB_INFO_DIR) for name in archive.namelist())


def unpack_release(fab: bytes, dest: Path) -> None:
    """Write the FAB's files into `dest` so that Flower rebuilds the same FAB from it.

    Args:
        fab: the FAB's bytes.
        dest: an empty or missing folder.

    Raises:
        ConfigError: not a zip, an unsafe entry (absolute path, `..`, symlink), or `dest`
            is not empty.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(fab))
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"not a FAB (zip): {exc}") from exc
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{dest}: must be an empty folder to unpack a release into")
    with archive:
        entries = [i for i in archive.infolist() if not i.filename.startswith(FAB_INFO_DIR)]
        for info in entries:
            parts = info.filename.split("/")
            if (
                info.filename.startswith("/")
                or any(part in ("", ".", "..") or "\\" in part for part in parts)
                or ":" in parts[0]  # a drive letter
            ):
                raise ConfigError(f"FAB entry {info.filename!r}: not a plain relative path")
            if stat.S_ISLNK(info.external_attr >> 16) or info.is_dir():
                raise ConfigError(f"FAB entry {info.filename!r}: not a regular file")
        if len({i.filename for i in entries}) != len(entries):
            raise ConfigError("FAB holds the same path twice")
        if sum(i.file_size for i in entries) > MAX_UNPACKED_BYTES:
            raise ConfigError(f"FAB unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        dest.mkdir(parents=True, exist_ok=True)
        try:
            for info in entries:
                target = dest.joinpath(*info.filename.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as handle:  # never follows or replaces anything
                    handle.write(archive.read(info))
        except (OSError, zipfile.BadZipFile) as exc:
            raise ConfigError(f"{dest}: cannot unpack the FAB: {exc}") from exc


def submittable_copy(fab: bytes, dest: Path) -> Path:
    """Unpack `fab` into `dest` and check that Flower rebuilds exactly `fab` from it.

    `flwr run <dest>` then submits the approved release, byte for byte.

    Raises:
        ConfigError: as `unpack_release`, or the rebuilt FAB differs (`dest` is removed).
    """
    from fedscore.core.flower_compat.fab import build_fab_from_disk

    unpack_release(fab, dest)
    expected = hashlib.sha256(fab).hexdigest()
    try:
        rebuilt = hashlib.sha256(build_fab_from_disk(dest)).hexdigest()
    except ValueError as exc:
        rebuilt = f"nothing ({exc})"
    if rebuilt != expected:
        shutil.rmtree(dest)
        raise ConfigError(f"Flower rebuilds {rebuilt} from the FAB sha256:{expected}, not itself")
    return dest
