"""fedscore: privacy-preserving federated credit scoring.

The top-level folders of the repository are the subpackages of this namespace:
`core/` → fedscore.core, `server/` → fedscore.server, `clients/` →
fedscore.clients, `privacy/` → fedscore.privacy, `datasets/` → fedscore.datasets,
`demo/` → fedscore.demo.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["ScoringModel", "load_model"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: importing any fedscore module must not pull in torch (a
    # deployed node starts a fresh process per Flower message, most of which need none).
    if name in __all__:
        from fedscore.core import artifact

        return getattr(artifact, name)
    raise AttributeError(f"module 'fedscore' has no attribute '{name}'")
