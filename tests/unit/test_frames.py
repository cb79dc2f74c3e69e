"""services.frames.frame_of: query rows as a DataFrame, the same as pandas builds from the Rows themselves."""
import pandas as pd
from sqlalchemy import create_engine, text

from services.frames import frame_of


def test_frame_of_rows_equals_the_frame_pandas_builds_from_them():
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        rows = conn.execute(text("WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t WHERE x < 500) "
                                 "SELECT x, x * 1.5, 'ep' || x, CASE WHEN x % 7 = 0 THEN NULL ELSE x END FROM t")).all()
        empty = conn.execute(text("SELECT 1 WHERE 0")).all()
    columns = ["id", "value", "title", "maybe"]

    frame = frame_of(rows, columns)

    pd.testing.assert_frame_equal(frame, pd.DataFrame(rows, columns=columns))
    assert frame["id"].dtype == "int64" and frame["maybe"].isna().sum() == 500 // 7
    assert list(frame_of(empty, columns).columns) == columns and frame_of(empty, columns).empty
