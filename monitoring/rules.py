"""The monitoring file: strong and weak rules over the book, the actions of each grade.

```toml
[[strong_rules]]                 # a strong rule puts a customer it fires on in `grade`
name = "two_or_more_months_behind"
when = "PAY_0 >= 2"
grade = "D"
reason = "M01"

[[weak_rules]]                   # a weak rule is a flag: the best grade it leaves
name = "bill_above_limit"
when = "BILL_AMT1 > LIMIT_BAL"
cap_grade = "B"
reason = "M11"

[actions]                        # what each grade triggers (default: the grades' actions)
A = "line increase"

[report]
mover_steps = 2                  # a mover fell this many grades or more (A→C)
```

Rules are expressions over the task's features and the model's outputs (pd, score,
grade by score), parsed and type-checked by the decision rules' grammar
(`fedscore.decisions.expressions`: Python's `ast`, never `eval`); an unknown field, a
type mismatch, a rule that can never fire or an unknown grade stops loading with the
file, rule and column. A customer's monitoring grade is the worst of their grade by
score and the grades the rules that fire on them leave.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from fedscore.core.errors import ConfigError
from fedscore.core.typed_config import StrictSection, parse_section
from fedscore.core.untrusted_documents import parse_toml
from fedscore.decisions.fields import RuleFields
from fedscore.decisions.rules import RuleSet, compile_rules
from fedscore.decisions.strategy import HardRule, RuleBase, SoftRule

#: What each grade of the default scale triggers in monitoring.
DEFAULT_ACTIONS = {
    "A": "line increase",
    "B": "normal management",
    "C": "watch list",
    "D": "high-frequency monitoring",
}


class StrongRule(RuleBase):
    """`[[strong_rules]]`: puts every customer it fires on in `grade` (or a worse one).

    Attributes:
        name, when, reason, description: as for every rule (`RuleBase`); the name is listed
            for every customer it fires on.
        grade: the grade a customer it fires on gets at best ("D").
    """

    grade: str


class WeakRule(RuleBase):
    """`[[weak_rules]]`: a flag capping the grade of every customer it fires on.

    Attributes:
        name, when, reason, description: as for every rule (`RuleBase`).
        cap_grade: the best grade a customer it fires on may keep ("B").
    """

    cap_grade: str


class ReportSettings(StrictSection):
    """`[report]`.

    Attributes:
        mover_steps: grades a customer must fall by to be listed as a mover (2: A→C).
        feature_bins: equal bins of a scaled numeric feature for stability (levels and
            bins of the encoding otherwise).
        psi_warn_above: PSI above which a feature (or the score) is flagged unstable.
    """

    mover_steps: int = Field(default=2, ge=1)
    feature_bins: int = Field(default=10, ge=2, le=100)
    psi_warn_above: float = Field(default=0.25, gt=0)


class MonitoringFile(StrictSection):
    """The whole monitoring file.

    Attributes:
        strong_rules: the `[[strong_rules]]`, in order.
        weak_rules: the `[[weak_rules]]`.
        actions: grade → what it triggers; grades left out keep their default action.
        report: the `[report]` settings.
    """

    strong_rules: list[StrongRule] = Field(default_factory=list)
    weak_rules: list[WeakRule] = Field(default_factory=list)
    actions: dict[str, str] = Field(default_factory=dict)
    report: ReportSettings = ReportSettings()


@dataclass(frozen=True)
class MonitoringRules:
    """A monitoring file compiled against a model's fields and grades.

    Attributes:
        rules: strong rules first, then weak ones (`RuleSet.evaluate` gives the grade caps).
        actions: the action of each grade, best grade first.
        report: the report settings.
        source: the file ("" for the defaults).
    """

    rules: RuleSet
    actions: tuple[str, ...]
    report: ReportSettings
    source: str = ""


def compile_monitoring(
    document: MonitoringFile, fields: RuleFields, source: str
) -> MonitoringRules:
    """Compile a parsed monitoring file.

    Raises:
        ConfigError: every problem, each naming the file, the rule and the column.
    """
    grades = fields.grades
    hard = [
        HardRule(name=r.name, when=r.when, grade=r.grade, reason=r.reason)
        for r in document.strong_rules
    ]
    soft = [
        SoftRule(name=r.name, when=r.when, cap_grade=r.cap_grade, reason=r.reason)
        for r in document.weak_rules
    ]
    rules, problems = compile_rules(hard, soft, fields.types, grades)
    problems = [
        p.replace("[[hard_rules]]", "[[strong_rules]]").replace("[[soft_rules]]", "[[weak_rules]]")
        for p in problems
    ]
    unknown = sorted(set(document.actions) - set(grades))
    if unknown:
        problems.append(f"[actions]: unknown grades {unknown} (grades: {', '.join(grades)})")
    if problems:
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(problems))
    actions = tuple(document.actions.get(g, DEFAULT_ACTIONS.get(g, "")) for g in grades)
    return MonitoringRules(rules, actions, document.report, source)


def load_monitoring_rules(path: str | Path | None, fields: RuleFields) -> MonitoringRules:
    """The monitoring file at `path` (None: no rules, default actions and settings).

    Args:
        path: the TOML file.
        fields: what rules may name (the model's features, pd, score, grade).

    Raises:
        ConfigError: the file cannot be read, is not TOML, or breaks a rule (naming the
            file, the rule and the column).
    """
    if path is None:
        return compile_monitoring(MonitoringFile(), fields, "<defaults>")
    path = Path(path)
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return compile_monitoring(parse_section(MonitoringFile, data, path), fields, str(path))
