"""The "TO AGREE" marks: what a drafted schema leaves for the consortium to decide.

`fedscore schema draft` marks every line whose value the parties must agree: with the
placeholder value `"TO AGREE"` (`min = "TO AGREE"`), or with a comment starting
`# TO AGREE:` after a value taken from one party's data. `fedscore schema check` reports
every line still holding either, so a draft cannot be used before each decision was made.
"""

from __future__ import annotations

#: The mark's words: the placeholder value, and (followed by ":") a comment's start.
TO_AGREE = "TO AGREE"
#: What a marked line holds: the placeholder (a TOML string) or the comment's mark.
_MARKS = (f'"{TO_AGREE}"', f"# {TO_AGREE}:")


def mark_comment(why: str) -> str:
    """The comment marking a value to agree (`why`: where the value came from)."""
    return f"# {TO_AGREE}: {why}"


def is_placeholder(value: object) -> bool:
    """Whether `value` is the draft's placeholder for a value still to agree."""
    return value == TO_AGREE


def marked_lines(text: str, source: str) -> list[str]:
    """One problem per line of a schema still marked "TO AGREE", naming its line and key.

    Args:
        text: the schema file's text.
        source: the file, named in each problem.
    """
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not any(mark in line for mark in _MARKS):
            continue
        code = line.split("#", 1)[0]
        key = code.split("=", 1)[0].strip() if "=" in code else ""
        what = f"'{key}' is" if key else "this line is"
        problems.append(
            f"{source}, line {number}: {what} still marked {TO_AGREE}: write what the "
            "consortium agreed (from domain knowledge) and delete the mark"
        )
    return problems
