"""The demo: a three-institution consortium on the bundled data set, with synthetic identities.

The identities come from `fedscore.demo.identities`, which needs the `demo` extra (Faker).

No node imports this package, and the app release (FAB) does not ship it: it only
prepares the demo's institutions (`prepare_demo`) on the model owner's machine.
"""

from typing import Any

__all__ = ["DemoFederation", "prepare_demo"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `fedscore.demo.identities` alone must not pull in Flower.
    if name in __all__:
        from fedscore.demo import consortium

        return getattr(consortium, name)
    raise AttributeError(f"module 'fedscore.demo' has no attribute '{name}'")
