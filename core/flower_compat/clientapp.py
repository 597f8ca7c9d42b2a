"""What a ClientApp mod handles: its types, and a message's objects as Flower sends them.

- `ClientAppCallable`, `Mod` (`flwr.clientapp.typing`): the types of the next handler a
  mod calls and of a mod itself, for fedscore's mods (secure aggregation, the outgoing
  audit). `flwr.clientapp` exports `ClientApp` and the built-in mods, not these types.
- `get_all_nested_objects` (`flwr.supercore.inflatable.inflatable_object`): every object
  Flower transmits for a message (the message, its record dict, each record and array),
  by object id; the outgoing audit (`clients/outgoing_audit.py`) writes each one's
  serialized bytes (`deflate()`). No public API shows what goes on the wire.
"""

from __future__ import annotations

from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

__all__ = ["ClientAppCallable", "Mod", "get_all_nested_objects"]
