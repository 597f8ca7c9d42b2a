"""A vertical party's node: each protocol stage answered from the node's own disk.

`dispatch` routes a relay's request to its stage; `run_folder` keeps one run's state
(owner-only) between messages; `admission`, `psi_stages` and `training_stages` are the
stages themselves.
"""
