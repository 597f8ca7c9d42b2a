from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeatureValue(_message.Message):
    __slots__ = ("number", "text")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    number: float
    text: str
    def __init__(self, number: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("request_id", "features")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureValue, _Mapping]] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    features: _containers.MessageMap[str, FeatureValue]
    def __init__(self, request_id: _Optional[str] = ..., features: _Optional[_Mapping[str, FeatureValue]] = ...) -> None: ...

class ReasonCode(_message.Message):
    __slots__ = ("feature", "points", "logit_contribution")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LOGIT_CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    feature: str
    points: float
    logit_contribution: float
    def __init__(self, feature: _Optional[str] = ..., points: _Optional[float] = ..., logit_contribution: _Optional[float] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("request_id", "model_version", "probability_of_default", "score", "grade", "action", "reasons")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_OF_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model_version: str
    probability_of_default: float
    score: float
    grade: str
    action: str
    reasons: _containers.RepeatedCompositeFieldContainer[ReasonCode]
    def __init__(self, request_id: _Optional[str] = ..., model_version: _Optional[str] = ..., probability_of_default: _Optional[float] = ..., score: _Optional[float] = ..., grade: _Optional[str] = ..., action: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[ReasonCode, _Mapping]]] = ...) -> None: ...

class ModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Grade(_message.Message):
    __slots__ = ("name", "min_score", "action")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    min_score: float
    action: str
    def __init__(self, name: _Optional[str] = ..., min_score: _Optional[float] = ..., action: _Optional[str] = ...) -> None: ...

class ModelInfoReply(_message.Message):
    __slots__ = ("model_version", "task", "task_version", "model", "features", "grades", "base_score", "base_odds", "pdo", "model_card_json")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GRADES_FIELD_NUMBER: _ClassVar[int]
    BASE_SCORE_FIELD_NUMBER: _ClassVar[int]
    BASE_ODDS_FIELD_NUMBER: _ClassVar[int]
    PDO_FIELD_NUMBER: _ClassVar[int]
    MODEL_CARD_JSON_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    task: str
    task_version: str
    model: str
    features: _containers.RepeatedScalarFieldContainer[str]
    grades: _containers.RepeatedCompositeFieldContainer[Grade]
    base_score: float
    base_odds: float
    pdo: float
    model_card_json: str
    def __init__(self, model_version: _Optional[str] = ..., task: _Optional[str] = ..., task_version: _Optional[str] = ..., model: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., grades: _Optional[_Iterable[_Union[Grade, _Mapping]]] = ..., base_score: _Optional[float] = ..., base_odds: _Optional[float] = ..., pdo: _Optional[float] = ..., model_card_json: _Optional[str] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("application_id", "features")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureValue, _Mapping]] = ...) -> None: ...
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    features: _containers.MessageMap[str, FeatureValue]
    def __init__(self, application_id: _Optional[str] = ..., features: _Optional[_Mapping[str, FeatureValue]] = ...) -> None: ...

class DecideReply(_message.Message):
    __slots__ = ("application_id", "outcome", "grade", "action", "score_grade", "probability_of_default", "score", "limit_min", "limit_max", "pricing_tier", "annual_rate", "instalments", "fired_rules", "reason_codes", "model_reasons", "model_version", "strategy", "strategy_version", "arm")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_GRADE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_OF_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MIN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MAX_FIELD_NUMBER: _ClassVar[int]
    PRICING_TIER_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_RATE_FIELD_NUMBER: _ClassVar[int]
    INSTALMENTS_FIELD_NUMBER: _ClassVar[int]
    FIRED_RULES_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    MODEL_REASONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    outcome: str
    grade: str
    action: str
    score_grade: str
    probability_of_default: float
    score: float
    limit_min: float
    limit_max: float
    pricing_tier: str
    annual_rate: float
    instalments: _containers.RepeatedScalarFieldContainer[int]
    fired_rules: _containers.RepeatedScalarFieldContainer[str]
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    model_reasons: _containers.RepeatedCompositeFieldContainer[ReasonCode]
    model_version: str
    strategy: str
    strategy_version: str
    arm: str
    def __init__(self, application_id: _Optional[str] = ..., outcome: _Optional[str] = ..., grade: _Optional[str] = ..., action: _Optional[str] = ..., score_grade: _Optional[str] = ..., probability_of_default: _Optional[float] = ..., score: _Optional[float] = ..., limit_min: _Optional[float] = ..., limit_max: _Optional[float] = ..., pricing_tier: _Optional[str] = ..., annual_rate: _Optional[float] = ..., instalments: _Optional[_Iterable[int]] = ..., fired_rules: _Optional[_Iterable[str]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., model_reasons: _Optional[_Iterable[_Union[ReasonCode, _Mapping]]] = ..., model_version: _Optional[str] = ..., strategy: _Optional[str] = ..., strategy_version: _Optional[str] = ..., arm: _Optional[str] = ...) -> None: ...
