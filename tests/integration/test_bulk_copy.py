"""services.bulk's COPY, binary and text: every value round-trips through PostgreSQL exactly, NULL apart from '' and
from a literal backslash-N, tabs, newlines, carriage returns and backslashes inside values, timestamps to the
microsecond; what binary does not encode goes as text."""
from __future__ import annotations

import io
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
import pytest

from services import bulk, copy_formats
from tests.integration.conftest import create_database, drop_database


@pytest.fixture
def conn(postgres_available):
    name, url = create_database()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        c.execute("SET TIME ZONE 'Europe/Berlin'")  # aware timestamps must not depend on the session's zone
        yield c
    drop_database(name)


TRICKY = ["plain", "", None, "tab\there", "new\nline", "cr\rreturn", "back\\slash", "\\N", "\\", "trailing\\",
          "ünïcödé ✓", "quote\"'", "comma,semi;", " spaced "]


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    text = pd.Series(np.array(TRICKY, dtype=object)[rng.integers(0, len(TRICKY), n)], dtype=object)
    ts = pd.Series(pd.Timestamp("2025-06-29 23:59:59.999999", tz="UTC")
                   - pd.to_timedelta(rng.integers(0, 10**12, n), unit="us"))
    ts[rng.random(n) < 0.1] = ts.iloc[0].floor("s")  # whole seconds: no fraction written
    ts_null = ts.copy()
    ts_null[rng.random(n) < 0.2] = pd.NaT
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "txt": text,
        "str_dtype": text.astype("str"),
        "cat": text.astype("category"),
        "many": [f"k{i}\t{i % 3}\\" for i in range(n)],  # one distinct value per row
        "small": pd.Series(rng.integers(-3, 3, n), dtype="Int64").where(rng.random(n) > 0.3, pd.NA),
        "big": rng.integers(-2**62, 2**62, n),
        "flag": rng.random(n) < 0.5,
        "real": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "ts": ts,
        "ts_null": ts_null,
    })


def _formats_used(monkeypatch, binary: bool) -> list[str]:
    """Which format each copy_frame call wrote; with binary=False copy_binary declines, as for a type it lacks."""
    used, real = [], bulk.copy_binary

    def copy_binary(*args, **kwargs):
        if not binary:
            raise copy_formats._NoBinary("asked for text")
        result = real(*args, **kwargs)
        used.append("binary")
        return result

    monkeypatch.setattr(bulk, "copy_binary", copy_binary)
    return used


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("per_row", [(), ("id", "many", "small", "txt")])
@pytest.mark.parametrize("n", [1, 7, 5000])
def test_copy_round_trips(conn, monkeypatch, n, per_row, binary):
    """Also with columns formatted row by row (per_row) rather than once per distinct value."""
    frame = _frame(n)
    conn.execute("CREATE TABLE t (id bigint, txt varchar(40), str_dtype text, cat text, many text, small smallint, "
                 "big bigint, flag boolean, real double precision, ts timestamptz, ts_null timestamp)")
    used = _formats_used(monkeypatch, binary)
    with conn.cursor() as cur:
        bulk.copy_frame(cur, "t", frame, per_row=per_row)
    assert used == (["binary"] if binary else [])
    rows = conn.execute(f"SELECT {', '.join(frame.columns)} FROM t ORDER BY id").fetchall()
    assert len(rows) == n
    got = {name: list(values) for name, values in zip(frame.columns, zip(*rows))}
    for name in ("txt", "str_dtype", "cat"):
        expected = [None if v is None else v for v in frame["txt"]]
        assert got[name] == expected, name
    assert got["many"] == frame["many"].tolist()
    assert got["small"] == [None if v is pd.NA else int(v) for v in frame["small"]]
    assert got["big"] == frame["big"].tolist()
    assert got["flag"] == frame["flag"].tolist()
    assert got["real"] == [None if np.isnan(v) else v for v in frame["real"]]
    assert [pd.Timestamp(v).tz_convert("UTC") for v in got["ts"]] == frame["ts"].tolist()
    assert [None if v is None else pd.Timestamp(v, tz="UTC") for v in got["ts_null"]] == \
        [None if pd.isna(v) else v for v in frame["ts_null"]]  # UTC's wall time in a column without a zone


def test_copy_binary_goes_by_chunks_and_leaves_what_it_lacks_to_text(conn):
    """Rows split over many pieces of the stream read back whole; a naive time for a timestamptz column (whose zone
    is the session's), a number for a text column, or a type without an encoding here are written as text."""
    n = 1001
    frame = pd.DataFrame({"id": np.arange(n), "d": pd.Series(pd.date_range("2025-01-01", periods=n, freq="D")),
                          "s": [f"s{i % 5}" for i in range(n)],
                          "none": pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index([], dtype="str"))})
    conn.execute("CREATE TABLE t (id bigint, d date, s text, none text)")
    types = {"id": "int8", "d": "date", "s": "text", "none": "text"}
    columns, pieces = copy_formats.copy_binary(frame, types, chunk_rows=100)
    pieces = list(pieces)
    assert len(pieces) == 1 + 11 + 1 and pieces[0].startswith(b"PGCOPY\n\xff\r\n\0") and pieces[-1] == b"\xff\xff"
    with conn.cursor() as cur, cur.copy(f"COPY t ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        for piece in pieces:
            copy.write(piece)
    rows = conn.execute("SELECT id, d, s, none FROM t ORDER BY id").fetchall()
    assert [(i, pd.Timestamp(d), s, none) for i, d, s, none in rows] == \
        [(i, d, s, None) for i, d, s, _ in frame.itertuples(index=False, name=None)]

    naive = pd.Series([pd.Timestamp("2025-06-01 12:00")])
    for column, kind in (("ts", "timestamptz"), ("txt", "text"), ("amount", "numeric"), ("day", "date")):
        with pytest.raises(copy_formats._NoBinary):
            copy_formats.copy_binary(pd.DataFrame({column: naive if kind != "text" else [7]}), {column: kind})
    conn.execute("CREATE TABLE u (ts timestamptz, txt text, amount numeric)")
    with conn.cursor() as cur:
        bulk.copy_frame(cur, "u", pd.DataFrame({"ts": naive, "txt": [7], "amount": [1.5]}))
    assert conn.execute("SELECT ts AT TIME ZONE 'Europe/Berlin', txt, amount FROM u").fetchone() == \
        (pd.Timestamp("2025-06-01 12:00").to_pydatetime(), "7", Decimal("1.5"))


def test_copy_text_column_order_is_reported(conn):
    frame = pd.DataFrame({"a": ["x", "y"] * 50, "b": range(100), "c": [f"u{i}" for i in range(100)]})
    columns, pieces = copy_formats.copy_text(frame)
    assert sorted(columns) == ["a", "b", "c"]
    lines = b"".join(pieces).decode().splitlines()
    assert len(lines) == 100
    first = dict(zip(columns, lines[0].split("\t")))
    assert first == {"a": "x", "b": "0", "c": "u0"}


def test_copy_text_joins_few_valued_neighbours_once_per_combination():
    """Columns with few values are joined per combination; every row still reads back as its own values."""
    n = 1000
    frame = pd.DataFrame({"key": [f"k{i}" for i in range(n)], "a": np.arange(n) % 2, "b": np.arange(n) % 3,
                          "c": pd.Series(["x", None] * (n // 2), dtype="category"),
                          "ts": pd.Timestamp("2025-01-01 00:59:58", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s")})
    columns, pieces = copy_formats.copy_text(frame, per_row=("key",))
    rows = [dict(zip(columns, line.split("\t"))) for line in b"".join(pieces).decode().splitlines()]
    assert rows[1] == {"key": "k1", "a": "1", "b": "1", "c": "\\N", "ts": "2025-01-01 00:59:59+00"}
    assert rows[999] == {"key": "k999", "a": "1", "b": "0", "c": "\\N", "ts": "2025-01-01 01:16:37+00"}
    assert [r["key"] for r in rows] == list(frame["key"])


@pytest.mark.parametrize(("buffer_size", "read_size"), [(1 << 20, 1 << 20), (7, 3), (100, 1000), (64, 65)])
def test_copy_out_streams_every_byte_whatever_the_buffer(conn, buffer_size, read_size):
    """CopyOut hands over the COPY output byte for byte, rows split across reads or whole: the same bytes as
    psycopg's own COPY reader, and an error in the statement is raised."""
    sql = ("COPY (SELECT i, repeat(chr(65 + mod(i, 26)), mod(i, 300)), E'tab\\there' FROM generate_series(1, 3000) i "
           "WHERE i > %s) TO STDOUT")
    with conn.cursor().copy(sql, (0,)) as copy:
        expected = b"".join(bytes(block) for block in copy)
    with bulk.CopyOut(conn, sql, (0,)) as stream:
        reader, got = io.BufferedReader(stream, buffer_size=buffer_size), []
        while block := reader.read(read_size):
            got.append(block)
    assert b"".join(got) == expected and len(expected) > 400_000
    failing = "COPY (SELECT 1 / (i - 5) FROM generate_series(1, 10) i WHERE i > %s) TO STDOUT"
    with pytest.raises(psycopg.errors.DivisionByZero), bulk.CopyOut(conn, failing, (0,)) as stream:
        stream.read()
