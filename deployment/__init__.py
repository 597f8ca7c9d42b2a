"""Running a consortium for real: PKI, the SuperLink, one SuperNode per institution, runs."""
