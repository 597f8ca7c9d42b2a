"""`fedscore run --option round-timeout=...`: read as seconds, or refused in words."""

from __future__ import annotations

import math

import pytest

from fedscore.cli.runs import _round_timeout, _typed
from fedscore.core.errors import FedscoreError


@pytest.mark.parametrize(("text", "seconds"), [("900", 900.0), ("12.5", 12.5), ("inf", math.inf)])
def test_a_numeric_round_timeout_is_seconds(text: str, seconds: float):
    assert _round_timeout(_typed(text)) == seconds


@pytest.mark.parametrize("text", ["soon", "[1, 2]", "{a = 1}"])
def test_a_round_timeout_that_is_no_number_is_refused_in_words(text: str):
    """Not a traceback (ValueError, TypeError) but the CLI's error naming the option."""
    with pytest.raises(FedscoreError, match="round-timeout expects a number"):
        _round_timeout(_typed(text))
