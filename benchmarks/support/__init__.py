"""What the benchmark scripts share.

- `cli`: the command line every script has (`--quick`, `--out-dir`, sizes, repeats);
- `output`: results as JSON + Markdown, Markdown tables, progress on the console;
- `machine`: where and with what a benchmark ran;
- `federation`: fresh demo consortia and one simulated federated run;
- `timing`: medians of repeated calls;
- `processes`: the processes of a deployment, their CPU and how they end;
- `proxy`: a TCP forwarder that counts bytes each way;
- `consortium`: a deployed demo consortium's files (PKI, release, server.toml).

Scripts import these as `support.<module>` (they run as `python benchmarks/<name>.py`,
which puts benchmarks/ on the path).
"""
