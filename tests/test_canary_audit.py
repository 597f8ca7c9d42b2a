"""One-run empirical audit: DP runs stay under their claim, "noise off" is caught."""

from __future__ import annotations

import pytest

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.runconfig import RunConfig
from fedscore.core.validation import validate_frame
from fedscore.privacy.audit.canary import epsilon_lower_bound, run_canary_audit

pytestmark = pytest.mark.slow  # trains hundreds of rounds to audit them

# A recipe that lets a non-private MLP memorize its canaries (many passes, small batches).
RECIPE = {"model": "mlp", "rounds": 200, "learning_rate": 0.3, "batch_size": 128, "delta": 1e-4}


@pytest.fixture(scope="module")
def rows(market, schema):
    """2,000 encoded rows of the large bank, the same at every run.

    Not through a node: its validation split follows the pseudonyms of a fresh key, and
    an audit's verdict must not change with the rows it is given from run to run.
    """
    table = validate_frame(market.parties["large_bank"], schema)
    return FeatureEncoder(schema).transform(table)[:2000], table.labels[:2000]


def test_lower_bound_statistics():
    assert epsilon_lower_bound(200, 100) == 0.0  # chance level proves nothing
    bounds = [epsilon_lower_bound(200, c) for c in (130, 150, 170, 190)]
    assert bounds == sorted(bounds) and bounds[0] > 0
    assert epsilon_lower_bound(200, 200) > 3


def test_dp_run_stays_below_its_claim_and_the_non_private_control_leaks(rows):
    features, labels = rows
    private = run_canary_audit(features, labels, RunConfig(**RECIPE, epsilon=1.0))
    control = run_canary_audit(features, labels, RunConfig(**RECIPE, private=False))
    assert 0.98 <= private.claimed_epsilon <= 1.0
    assert private.lower_bound <= private.claimed_epsilon
    assert control.lower_bound >= 1.2  # clear leakage: most canaries guessed right
    assert control.lower_bound >= private.lower_bound + 1.0
