"""The generic name registry, and the five registries built on it behaving alike."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fedscore.core.artifact import ScoringModel
from fedscore.core.errors import ConfigError
from fedscore.core.models import ModelSpec, available_models, build_model, register_model
from fedscore.core.registry import Registry, origin_of
from fedscore.core.runconfig import RunConfig
from fedscore.privacy.pii import Detector, available_detectors, get_detector, register_detector
from fedscore.privacy.pseudonymization import (
    Pseudonymizer,
    available_pseudonymizers,
    get_pseudonymizer,
    register_pseudonymizer,
)
from fedscore.scoring.reasons import (
    available_attributions,
    build_attribution,
    register_attribution,
)
from fedscore.server.strategy import available_strategies, build_strategy, register_strategy


def double(x: int) -> int:
    return 2 * x


def triple(x: int) -> int:
    return 3 * x


# --- the generic class -------------------------------------------------------------------


def test_register_get_names_and_contains():
    numbers: Registry[object] = Registry("number")
    assert numbers.register("double")(double) is double
    assert numbers.add("triple", triple) is triple
    numbers.add("a-b_c2", 1)
    assert numbers.get("double") is double
    assert numbers.names() == ["a-b_c2", "double", "triple"]
    assert [name for name, _ in numbers.items()] == ["double", "triple", "a-b_c2"]
    assert "triple" in numbers and "quadruple" not in numbers and 3 not in numbers
    assert len(numbers) == 3
    assert "double" in repr(numbers)


def test_unknown_name_lists_the_known_ones_in_the_chosen_error_type():
    numbers: Registry[object] = Registry("number")
    numbers.add("two", 2)
    numbers.add("one", 1)
    message = "unknown number 'three'; choose one of ['one', 'two']"
    with pytest.raises(ConfigError, match=re.escape(message)):
        numbers.get("three")
    keyed: Registry[object] = Registry("number", unknown_error=KeyError, reserved=["auto"])
    keyed.add("one", 1)
    with pytest.raises(KeyError, match=re.escape("choose one of ['auto', 'one']")):
        keyed.get("auto")


def test_duplicates_are_refused_naming_the_first_registration():
    numbers: Registry[object] = Registry("number")
    numbers.add("twice", double)
    expected = f"number 'twice' is already registered (by {__name__}.double); choose another"
    with pytest.raises(ValueError, match=re.escape(expected)):
        numbers.add("twice", triple)
    with pytest.raises(ValueError, match="already registered"):
        numbers.register("twice")(triple)
    assert numbers.get("twice") is double
    numbers.add("twice", triple, replace=True)
    assert numbers.get("twice") is triple


@pytest.mark.parametrize("name", ["", "Lr", "fed avg", "_x", "x_", "a--b", "1st", "é", None, 3])
def test_malformed_and_reserved_names_are_refused(name):
    numbers: Registry[object] = Registry("number", reserved=["auto"])
    with pytest.raises(ValueError, match="invalid number name"):
        numbers.add(name, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reserved"):
        numbers.add("auto", 1)
    assert len(numbers) == 0


def test_copy_is_independent():
    numbers: Registry[object] = Registry("number", unknown_error=KeyError)
    numbers.add("one", 1)
    twin = numbers.copy()
    twin.add("two", 2)
    assert numbers.names() == ["one"] and twin.names() == ["one", "two"]
    with pytest.raises(KeyError):
        twin.get("three")


def test_origin_of_names_functions_classes_and_instances():
    assert origin_of(double) == f"{__name__}.double"
    assert origin_of(Registry) == "fedscore.core.registry.Registry"
    assert origin_of(Registry("x")) == "fedscore.core.registry.Registry"


# --- the five registries -----------------------------------------------------------------


def test_models_refuse_duplicates_and_list_names():
    assert available_models() == sorted(available_models())
    assert {"lr", "mlp"} <= set(available_models())
    with pytest.raises(ValueError, match=r"model 'lr' is already registered \(by .*logistic"):
        register_model("lr")(lambda spec: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match=re.escape("unknown model 'svm'; choose one of ['lr'")):
        build_model(ModelSpec("svm", n_features=3))


def test_strategies_refuse_duplicates_and_list_names():
    assert available_strategies() == sorted(available_strategies())
    with pytest.raises(ValueError, match=r"strategy 'fedavg' is already registered \(by .*fedavg"):
        register_strategy("fedavg")(lambda run, parties: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match=re.escape("unknown strategy 'fedsgd'; choose one of ['")):
        build_strategy(RunConfig(strategy="fedsgd"), 3)


def test_attributions_refuse_duplicates_and_auto_and_list_names():
    assert available_attributions() == ["exact_linear", "integrated_gradients"]
    with pytest.raises(ValueError, match="'exact_linear' is already registered"):
        register_attribution("exact_linear")(lambda model, baseline, steps: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="reserved"):
        register_attribution("auto")(lambda model, baseline, steps: None)  # type: ignore[arg-type,return-value]
    model = build_model(ModelSpec("lr", n_features=2))
    expected = "choose one of ['auto', 'exact_linear', 'integrated_gradients']"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        build_attribution("shap", ScoringModel.of_module(model, None, RunConfig()), np.zeros(2))  # type: ignore[arg-type]


def test_detectors_refuse_duplicates_and_list_names():
    class AnotherMobile(Detector):
        name = "mobile"
        pattern = re.compile("x")

        def is_valid(self, candidate: str, context: str = "") -> bool:
            return False

    with pytest.raises(ValueError, match=r"'mobile' is already registered \(by .*MobileDetector"):
        register_detector(AnotherMobile())
    assert get_detector("mobile").name == "mobile"
    assert type(get_detector("mobile")).__name__ == "MobileDetector"
    with pytest.raises(KeyError, match=re.escape("unknown PII detector 'passport'; choose one of")):
        get_detector("passport")
    assert available_detectors()[0] == "resident_id"  # registration order: the scan order


def test_pseudonymizers_refuse_duplicates_and_list_names():
    assert available_pseudonymizers() == ["hmac-sha256", "hmac-sm3"]
    sha256 = get_pseudonymizer("hmac-sha256")
    with pytest.raises(ValueError, match=r"'hmac-sm3' is already registered \(by .*hmac_sm3"):
        register_pseudonymizer(Pseudonymizer("hmac-sm3", sha256.digest))
    with pytest.raises(ConfigError, match=re.escape("choose one of ['hmac-sha256', 'hmac-sm3']")):
        get_pseudonymizer("md5")
