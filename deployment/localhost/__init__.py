"""A consortium on one machine (127.0.0.1), for tests, benchmarks and trials.

`processes`: free ports, fedscore's command line, a child process's peak memory;
`consortium`: a release of the running code and node configs that join a local SuperLink.
"""
