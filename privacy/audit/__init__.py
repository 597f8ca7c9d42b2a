"""Privacy audits: the compliance audit of verified evidence and empirical canary audits."""
