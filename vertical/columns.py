"""Which of the bundled data set's columns each party of the vertical demo holds, and why.

The bundled data describe one card book; the vertical demo splits its columns the way a
bank and a loan facilitator (助贷机构) that serve the same customers hold them:

- the bank granted the credit line and carries the outcome: the label (default next
  month), the line (`LIMIT_BAL`), what it learned at account opening (sex, education,
  marital status, age) and its monthly statements (bill amounts, payments received);
- the facilitator runs the customer-facing platform through which the customer applies
  and repays: it observes, month by month, whether each repayment arrived on time or how
  many months late (`PAY_0`, `PAY_2`..`PAY_6`: its repayment channel and collection data).

Neither column set alone predicts as well as both (centralized logistic regression on
raw columns, 30 % hold-out: bank 0.656 AUC, facilitator 0.701, both 0.715), which is why
the two would model together.
"""

from __future__ import annotations

#: The joint purpose both parties' customers must have consented to.
JOINT_PURPOSE = "joint_risk_control"

#: The label, held by the bank only.
LABEL = "default.payment.next.month"

#: The bank's feature columns (with the label: everything the label holder holds).
BANK_COLUMNS: tuple[str, ...] = (
    "LIMIT_BAL",
    "SEX",
    "EDUCATION",
    "MARRIAGE",
    "AGE",
    *(f"BILL_AMT{month}" for month in range(1, 7)),
    *(f"PAY_AMT{month}" for month in range(1, 7)),
)

#: The facilitator's feature columns: monthly repayment status on its platform.
FACILITATOR_COLUMNS: tuple[str, ...] = ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")
