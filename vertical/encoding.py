"""How a vertical party turns its feature columns into model inputs.

Each party encodes only its own columns, with the consortium task schema's declared
encodings (bins, bounds, categorical levels: `datasets/tasks/default_risk.toml`) cut down
to those columns (`training.submodels.party_encoder`). The encoding depends on no
statistic of the party's data, so nothing about the data escapes through it and the same
encoding scores new rows; both parties use the same schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.datasets import default_task_path
from fedscore.vertical.training.submodels import party_encoder

Matrix = npt.NDArray[np.float32]


class PartyEncoding:
    """One party's encoding of its feature columns.

    Args:
        columns: the party's feature columns, in the order its table's rows give them.
        schema: the consortium's task schema (default: the bundled one).

    Raises:
        ConfigError: a column is not a feature of the schema.
    """

    def __init__(self, columns: Sequence[str], schema: TaskSchema | None = None) -> None:
        self.columns = tuple(columns)
        self.encoder: FeatureEncoder = party_encoder(
            schema or load_schema(default_task_path()), columns
        )

    @property
    def width(self) -> int:
        """How many encoded features a row has."""
        return int(self.encoder.n_features)

    def apply(self, features: npt.NDArray[np.floating]) -> Matrix:
        """Rows × the party's columns (as numbers) → rows × `width` encoded features.

        Raises:
            ConfigError: another number of columns than the party's.
        """
        if features.ndim != 2 or features.shape[1] != len(self.columns):
            raise ConfigError(
                f"{features.shape[-1] if features.ndim else 0} feature columns; the party has "
                f"{len(self.columns)}"
            )
        frame = pd.DataFrame(np.asarray(features, dtype=np.float64), columns=list(self.columns))
        encoded: Matrix = self.encoder.transform(frame).astype(np.float32)
        return encoded
