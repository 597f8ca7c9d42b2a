"""A local consortium's files: a release of the running code, nodes joined to a SuperLink.

What a test or a benchmark writes before it starts `fedscore server start` and `fedscore
node start` on this machine, the way an operator would: the app release built from the
checkout (uncommitted changes included), and each institution's node key and
`[deployment]` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from fedscore.deployment.localhost.processes import free_port
from fedscore.deployment.pki import PkiLayout, issue_node_key
from fedscore.deployment.release import (
    Release,
    build_release,
    working_tree_commit,
    write_release,
)


def release_of_checkout(repository: Path, out_dir: Path) -> tuple[Release, Path]:
    """Build and write the release of the code in `repository`, committed or not.

    Args:
        repository: a folder of fedscore's git checkout.
        out_dir: where `<name>.fab` and `<name>.release.json` go.

    Returns:
        The release and the path of its FAB.
    """
    release = build_release(repository, working_tree_commit(repository))
    fab, _ = write_release(release, out_dir)
    return release, fab


def join_superlink(
    config: Path,
    pki: PkiLayout,
    party: str,
    superlink: str,
    sections: Mapping[str, Any],
) -> Path:
    """Issue `party`'s node key and append `sections` and `[deployment]` to its node config.

    Args:
        config: the institution's node.toml (appended to).
        pki: the consortium PKI that issues the node key.
        party: the institution's name in the node list.
        superlink: the host:port its SuperNode connects to.
        sections: other sections to append (e.g. `trust`, `policy`).

    Returns:
        The node's private key file.
    """
    private, _ = issue_node_key(pki.root, party)
    deployment = {
        "superlink": superlink,
        "root_certificates": str(pki.ca_cert),
        "auth_key": str(private),
        "runtime_port": free_port(),
    }
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + tomli_w.dumps({**sections, "deployment": deployment}))
    return private
