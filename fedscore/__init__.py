"""fedscore: privacy-preserving federated credit scoring.

The top-level folders of the repository are the subpackages of this namespace:
`core/` → fedscore.core, `server/` → fedscore.server, `clients/` →
fedscore.clients, `privacy/` → fedscore.privacy, `datasets/` → fedscore.datasets.
"""

__version__ = "0.1.0"
