"""Monitoring an existing book: grade it at two dates, rules, migration, stability, actions.

Layout:

    rules.py       the monitoring file (TOML): strong and weak rules, actions, report settings
    grading.py     one book graded by the batch engine, the rules applied, feature bins counted
    stability.py   PSI and characteristic stability per feature between the two books
    migration.py   the two books joined by customer key: migration matrix and movers
    report.py      the HTML page (migration heatmap, PSI per feature) and the JSON summary
    monitor.py     `monitor_books`: everything above, written whole or not at all
"""

from fedscore.monitoring.monitor import MonitorResult, monitor_books
from fedscore.monitoring.rules import MonitoringRules, load_monitoring_rules

__all__ = ["MonitorResult", "MonitoringRules", "load_monitoring_rules", "monitor_books"]
