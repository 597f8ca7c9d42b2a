"""Building a FAB (Flower app bundle) exactly as `flwr run` builds it.

A release's sha256 is that of the FAB `flwr run` submits, so fedscore builds it with
Flower's own code (`deployment/release.py`); Flower has no public API for it, only the
`flwr build` command, which builds from a folder on disk and writes a file.

- `build_fab_from_files` (`flwr.cli.build`): the FAB of an app given as path → content;
  fedscore builds a release from a commit's git objects with it.
- `filter_paths_for_publish` (`flwr.cli.utils`): the paths Flower keeps in a FAB (its
  path rules and the app's `.gitignore`), so only those blobs are read.
- `build_fab_from_disk` (`flwr.cli.build`): the FAB of an app folder; fedscore checks that
  an unpacked release rebuilds to the same bytes.
"""

from __future__ import annotations

from flwr.cli.build import build_fab_from_disk, build_fab_from_files
from flwr.cli.utils import filter_paths_for_publish

__all__ = ["build_fab_from_disk", "build_fab_from_files", "filter_paths_for_publish"]
