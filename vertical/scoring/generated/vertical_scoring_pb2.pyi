from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ContributionRequest(_message.Message):
    __slots__ = ("run_id", "join_key")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    join_key: bytes
    def __init__(self, run_id: _Optional[str] = ..., join_key: _Optional[bytes] = ...) -> None: ...

class ContributionReply(_message.Message):
    __slots__ = ("contribution", "model_version")
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    contribution: float
    model_version: str
    def __init__(self, contribution: _Optional[float] = ..., model_version: _Optional[str] = ...) -> None: ...

class ContributionsRequest(_message.Message):
    __slots__ = ("run_id", "join_keys")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    join_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, run_id: _Optional[str] = ..., join_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ContributionsReply(_message.Message):
    __slots__ = ("contributions", "found", "model_version")
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    contributions: _containers.RepeatedScalarFieldContainer[float]
    found: _containers.RepeatedScalarFieldContainer[bool]
    model_version: str
    def __init__(self, contributions: _Optional[_Iterable[float]] = ..., found: _Optional[_Iterable[bool]] = ..., model_version: _Optional[str] = ...) -> None: ...
