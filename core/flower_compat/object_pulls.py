"""Flower's object pulls, and the retry backoff fedscore's deployed processes shorten.

In Flower 1.42 a message travels as a tree of objects, each pulled on its own: a
SuperNode stores a message it received before it has pulled the message's objects from
the SuperLink, and the task process then pulls them from the SuperNode; a reply's
objects likewise follow the reply to the ServerApp. Whoever asks for an object that is
not there yet waits `PULL_INITIAL_BACKOFF` (1 s, ±20 %), then twice that, up to
`PULL_BACKOFF_CAP` (10 s). Measured on a deployed round: a node's task process spent
1.1–1.4 s of every message in that first wait. Flower offers no setting for it; the two
functions take the backoff as keyword-only defaults, which `shorten_pull_backoff`
replaces in the calling process (every module that imported them shares the function).

- `inflatable_utils` (`flwr.supercore.inflatable`): its `pull_objects` makes the
  SuperNode's pulls from the SuperLink and the ServerApp grid's pulls of replies; its
  `pull_and_inflate_object_from_tree` a task process's pull of its message (it passes
  its own defaults on to `pull_objects`).
- `PULL_INITIAL_BACKOFF`, `PULL_BACKOFF_CAP` (`flwr.supercore.constant`): Flower's
  defaults of both.
- `shorten_pull_backoff`: fedscore's replacement of them.
"""

from __future__ import annotations

from flwr.supercore.constant import PULL_BACKOFF_CAP, PULL_INITIAL_BACKOFF
from flwr.supercore.inflatable import inflatable_utils

__all__ = ["PULL_BACKOFF_CAP", "PULL_INITIAL_BACKOFF", "inflatable_utils", "shorten_pull_backoff"]

#: The functions whose backoff defaults `shorten_pull_backoff` replaces.
PULLING = (inflatable_utils.pull_objects, inflatable_utils.pull_and_inflate_object_from_tree)


def shorten_pull_backoff(initial_seconds: float, cap_seconds: float) -> None:
    """Wait `initial_seconds` (doubling up to `cap_seconds`) for an object not there yet.

    Args:
        initial_seconds: the first wait after an object was unavailable.
        cap_seconds: the longest wait between two tries.
    """
    for function in PULLING:
        defaults = function.__kwdefaults__
        assert defaults is not None  # keyword-only arguments with defaults (checked by tests)
        defaults["initial_backoff"] = initial_seconds
        defaults["backoff_cap"] = cap_seconds
