"""fedscore: privacy-preserving federated credit scoring.

The top-level folders of the repository are the subpackages of this namespace:
`core/` → fedscore.core, `server/` → fedscore.server, `clients/` →
fedscore.clients, `privacy/` → fedscore.privacy, `datasets/` → fedscore.datasets.
"""

from fedscore.core.artifact import ScoringModel, load_model

__version__ = "0.1.0"
__all__ = ["ScoringModel", "load_model"]
