"""One-run empirical audit: DP runs stay under their claim, "noise off" is caught."""

from __future__ import annotations

import pytest

from fedscore.clients.local_data import load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.runconfig import RunConfig
from fedscore.privacy.audit.canary import epsilon_lower_bound, run_canary_audit

pytestmark = pytest.mark.slow  # trains hundreds of rounds to audit them

# A recipe that lets a non-private MLP memorize its canaries (many passes, small batches).
RECIPE = {"model": "mlp", "rounds": 200, "learning_rate": 0.3, "batch_size": 128, "delta": 1e-4}


@pytest.fixture(scope="module")
def rows(tmp_path_factory, market, schema, make_node):
    home = tmp_path_factory.mktemp("audit") / "bank"
    data = load_party_data(
        NodeConfig.from_toml(make_node(home, "bank", market.parties["large_bank"])), schema
    )
    return data.train_x[:2000], data.train_y[:2000]


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
