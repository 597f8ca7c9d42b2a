"""Text in figures is drawn as written, never parsed as matplotlib's mathtext.

Figure labels carry what other parties wrote: a data version from a party's own signed
ledger, an institution's display name, a feature name from the task schema. A "$\\fr$"
in one stopped the figure with a ParseFatalException, and with it the compliance audit
(a hostile member's ledger could keep the auditor from writing a report).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from fedscore.core.figures import figure_style, save_figure
from fedscore.privacy.audit.plots import plot_party_epsilon

NOT_MATHTEXT = "$\\fr$ x $\\frac{$"


def test_a_partys_own_text_in_an_audit_figure_is_drawn_as_text(tmp_path):
    rounds = [
        {
            "seq": seq,
            "run_id": "run-a",
            "data_version": NOT_MATHTEXT,
            "status": "trained",
            "epsilon_rdp": 0.2 * (seq + 1),
            "epsilon_prv": 0.15 * (seq + 1),
            "epsilon_spent": 0.2 * (seq + 1),
            "max_epsilon": 3.0,
        }
        for seq in range(3)
    ]
    view = {"rounds": rounds, "display_name": NOT_MATHTEXT}
    path = plot_party_epsilon("city_bank", view, tmp_path / "epsilon.png")
    assert path.stat().st_size > 1000


def test_every_figure_drawn_under_the_shared_style_keeps_dollar_signs(tmp_path):
    with figure_style():
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.barh([0, 1], [0.1, 0.2])
        ax.set_yticks([0, 1], [NOT_MATHTEXT, "LIMIT_$BAL$"])
        ax.set_title(NOT_MATHTEXT)
        save_figure(fig, tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 1000
