"""Credit decisions: a decision strategy (rules, cut-offs, limits, prices) over the joint score.

Layout:

    strategy.py      the strategy file (TOML) as strict pydantic models
    fields.py        what rules may name (features, pd, score, grade) and their types
    grammar.py       the rule grammar: parsed with `ast`, checked node by node, never eval'ed
    comparisons.py   comparisons: both sides type-checked, category literals as codes
    expressions.py   a checked expression: type, closure over numpy, constant, domains
    domains.py       the values a condition leaves a field (to find rules that never fire)
    rules.py         hard and soft rules, compiled and evaluated over many rows
    offers.py        limit (amount range) and pricing tiers
    split.py         champion/challenger: a salted hash of the application id
    plan.py          a strategy compiled against a model; loading a file and its challenger
    record.py        a decision, and many decisions as arrays
    decider.py       `Decider`: decide one application, or a whole frame
    store.py         strategies versioned and signed in the model registry
    strategies/      the bundled strategy of the default_risk task (and its challenger)
"""

from fedscore.decisions.decider import APPLICATION_ID, Decider
from fedscore.decisions.plan import CompiledStrategy, LoadedStrategy, load_strategy
from fedscore.decisions.record import Decision, DecisionArrays

__all__ = [
    "APPLICATION_ID",
    "CompiledStrategy",
    "Decider",
    "Decision",
    "DecisionArrays",
    "LoadedStrategy",
    "load_strategy",
]
