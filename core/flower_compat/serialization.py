"""Flower's own serialization of a RecordDict, for the packed wire form.

fedscore's deployed messages travel packed (`fedscore.core.protocol.packing`): all of a
content's records in one object, serialized as Flower itself serializes records.
`flwr.app` offers records but no way to turn a RecordDict into bytes and back.

- `recorddict_to_proto`, `recorddict_from_proto` (`flwr.common.serde`): a RecordDict to
  Flower's `RecordDict` protobuf message and back (arrays, metrics and configs, byte for
  byte).
- `ProtoRecordDict` (`flwr.proto.recorddict_pb2.RecordDict`): that protobuf message, to
  parse the bytes a packed content carries.
- `FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE` (`flwr.common.constant`): the largest object Flower
  itself sends (an array chunk, 5 MiB unless the environment variable of that name says
  otherwise); a packed content is never larger.
"""

from __future__ import annotations

from flwr.common.constant import FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE
from flwr.common.serde import recorddict_from_proto, recorddict_to_proto
from flwr.proto.recorddict_pb2 import RecordDict as ProtoRecordDict

__all__ = [
    "FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE",
    "ProtoRecordDict",
    "recorddict_from_proto",
    "recorddict_to_proto",
]
