"""Training the additive split model: each party's sub-model, DP-SGD on its own columns."""
