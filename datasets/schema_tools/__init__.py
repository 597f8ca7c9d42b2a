"""Writing a task schema without reading fedscore's code: check one, or draft one from data.

- `check_schema_file` (`fedscore schema check TASK.toml`): every problem of a task schema
  file at once: TOML, the document's rules, and the parts a draft left "TO AGREE".
- `check_table_sample` (`fedscore schema check TASK.toml DATA.csv`): a bounded sample of a
  party's table against the schema, with the node's own checks (validation, the PII scan)
  plus early warnings (values outside the bounds, k-anonymity on the sample).
- `draft_schema` (`fedscore schema draft DATA.csv`): a first task schema from a party's
  table: roles guessed, vocabularies from the data and bounds left to agree, each marked.

One module per job: `marks` (the "TO AGREE" marks the draft writes and the check finds),
`report` (what a check found, as lines that name file, row and column and never a value),
`schema_check`, `table_check`, `column_guess` (the role of a column, from its name and a
sample of its values), `draft` (the TOML text) and `dp_bounds` (optional differentially
private bounds for the draft).
"""

from fedscore.datasets.schema_tools.draft import Draft, draft_schema
from fedscore.datasets.schema_tools.report import CheckReport
from fedscore.datasets.schema_tools.schema_check import check_schema_file
from fedscore.datasets.schema_tools.table_check import SAMPLE_ROWS, check_table_sample

__all__ = [
    "SAMPLE_ROWS",
    "CheckReport",
    "Draft",
    "check_schema_file",
    "check_table_sample",
    "draft_schema",
]
