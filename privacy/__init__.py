"""Privacy at the node: DP-SGD, privacy accounting and budgets (de-identification follows)."""
