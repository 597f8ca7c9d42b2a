"""Automatic DP training settings: batch size, local steps, learning rate and clipping per party.

`choose_settings(run, n_records)` is the rule (`rule.py`); `MODEL_PROFILES` holds what it
assumes about each model (`profiles.py`).
"""

from fedscore.privacy.auto_settings.profiles import MODEL_PROFILES, ModelProfile, profile_for
from fedscore.privacy.auto_settings.rule import AutoRule, DpSettings, choose_settings

__all__ = [
    "MODEL_PROFILES",
    "AutoRule",
    "DpSettings",
    "ModelProfile",
    "choose_settings",
    "profile_for",
]
