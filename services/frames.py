"""DataFrames from query results."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def frame_of(rows: Iterable, columns: Sequence[str]) -> pd.DataFrame:
    """Result rows (SQLAlchemy Rows, or any sequences) as a DataFrame with these columns, built from plain tuples:
    pandas asks each row it is given whether it has a dtype, and a Row answers a missing attribute slowly (3,000 rows
    of six columns: 15 ms from Rows, 2 ms from tuples)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
