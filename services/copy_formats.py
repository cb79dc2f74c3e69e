"""COPY input built column-wise from DataFrames, in text or binary format: each column's distinct values encoded
once, fixed-width fields laid out by numpy, and each chunk's rows joined by Arrow. services.bulk writes it."""
from __future__ import annotations

import struct
from collections.abc import Collection, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL = "\\N"  # COPY text format's NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_CHUNK_ROWS = 200_000  # rows formatted per piece of COPY data: bounds the memory the text takes


def copy_text(frame: pd.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS,
              per_row: Collection[str] = ()) -> tuple[list[str], Iterator[bytes]]:
    """`frame` as COPY text format: (the column order used, UTF-8 pieces of whole rows).

    Values are formatted once per distinct value, never per row: each column becomes codes into its distinct
    texts (escaped: backslash, tab, newline, carriage return; missing values as \\N). The columns in `per_row`
    (keys and the like, a value per row) are formatted row by row instead, saving the search for repeats.
    Columns are written from the most to the fewest distinct values, and neighbouring pieces whose
    combinations stay few are joined once per combination, so a row is one join of a few pieces."""
    columns = _by_distinct_values([(name, _row_parts(frame[name]) if name in per_row else _column_parts(frame[name]))
                                   for name in frame.columns])
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    for i, (_, parts) in enumerate(columns):
        ends = [""] * (len(parts) - 1) + ["\n" if i == len(columns) - 1 else "\t"]
        pieces += [(codes, np.array([(t + end).encode() for t in texts], dtype=object))
                   for (codes, texts), end in zip(parts, ends)]
    return [name for name, _ in columns], _joined_rows(pieces, len(frame), chunk_rows)


def copy_binary(frame: pd.DataFrame, types: dict[str, str], chunk_rows: int = COPY_CHUNK_ROWS,
                per_row: Collection[str] = ()) -> tuple[list[str], Iterator[bytes]]:
    """`frame` as COPY's binary format, for columns of the given PostgreSQL types (pg_type.typname by column name):
    (the column order used, pieces of the stream, header and trailer included). Raises _NoBinary, before anything
    is built, for a column whose type or values it does not encode; copy_frame then writes text.

    A row is its field count, then per field a 4-byte length (-1 for NULL) and the value in network byte order.
    The count and the columns whose every field has one width (numbers and times without NULLs, texts of one length
    per row or of many categories) are laid side by side by numpy; the others are built as copy_text builds text,
    from each distinct value encoded once."""
    n = len(frame)
    fields = {name: _fixed_fields(frame[name], types.get(name), name in per_row) for name in frame.columns}
    dense = [name for name, matrix in fields.items() if matrix is not None]
    columns = _by_distinct_values([(name, _binary_parts(frame[name], types.get(name), name in per_row))
                                   for name in frame.columns if fields[name] is None])
    count = np.empty((n, 2), dtype=np.uint8)
    count[:] = np.frombuffer(struct.pack(">h", len(frame.columns)), dtype=np.uint8)
    pieces = [(None, np.hstack([count] + [fields[name] for name in dense]))]
    pieces += [part for _, parts in columns for part in parts]

    def stream() -> Iterator[bytes]:
        yield _BINARY_HEADER
        yield from _joined_rows(pieces, n, chunk_rows)
        yield _BINARY_TRAILER

    return dense + [name for name, _ in columns], stream()


_BINARY_HEADER = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # signature, then no flags and no header extension
_BINARY_TRAILER = b"\xff\xff"
_BINARY_NULL = b"\xff\xff\xff\xff"
_INTEGERS = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}
_FLOATS = {"float4": ">f4", "float8": ">f8"}
_TEXTS = ("text", "varchar", "bpchar")
_WIDTHS = {**_INTEGERS, **_FLOATS, "bool": "u1"}
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01, PostgreSQL's epoch, in microseconds since 1970
_PG_EPOCH_DAYS = 10_957


class _NoBinary(Exception):
    """A column whose type or values copy_binary does not encode."""


def _by_distinct_values(columns: list[tuple[str, list]]) -> list[tuple[str, list]]:
    """Columns ordered from the most to the fewest distinct values (of their parts')."""
    return sorted(columns, key=lambda column: -max(len(values) for _, values in column[1]))


def _joined_rows(pieces: list[tuple[np.ndarray | None, np.ndarray]], n: int, chunk_rows: int) -> Iterator[bytes]:
    """The rows, `chunk_rows` at a time, each the join of its value in every piece: (codes per row, distinct bytes
    values) or (None, a uint8 matrix with a row's bytes per row). Neighbouring pieces of the first kind are first
    joined once per combination where their combinations are few; then Arrow joins each chunk's rows at once."""
    limit = max(n // 4, 64)
    kept: list[tuple[np.ndarray | None, np.ndarray]] = []
    for codes, values in pieces:
        if codes is None or not kept or kept[-1][0] is None:
            kept.append((codes, values))
        else:
            kept[-1:] = _merge_neighbours([kept[-1], (codes, values)], limit)
    distinct = [None if codes is None else pa.array(values.tolist(), pa.large_binary()) for codes, values in kept]
    for lo in range(0, n, chunk_rows):
        hi = min(lo + chunk_rows, n)
        arrays = [_fixed_binary(values[lo:hi]) if codes is None else array.take(pa.array(codes[lo:hi]))
                  for (codes, values), array in zip(kept, distinct)]
        joined = arrays[0] if len(arrays) == 1 else pc.binary_join_element_wise(*arrays, _NO_SEPARATOR)
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:joined.offset + len(joined) + 1]
        yield memoryview(joined.buffers()[2])[offsets[0]:offsets[-1]]


_NO_SEPARATOR = pa.scalar(b"", pa.large_binary())


def _fixed_binary(matrix: np.ndarray) -> pa.Array:
    """A uint8 matrix's rows as an Arrow binary array (a bytes value per row)."""
    matrix = np.ascontiguousarray(matrix)
    rows = pa.FixedSizeBinaryArray.from_buffers(pa.binary(matrix.shape[1]), len(matrix),
                                                [None, pa.py_buffer(matrix)])
    return rows.cast(pa.large_binary())


def _fixed_fields(series: pd.Series, typname: str | None, per_row: bool) -> np.ndarray | None:
    """A column's binary fields as a (rows, 4 + width) uint8 matrix when they all have one width and numpy can lay
    them out faster than joining them: numbers and times without NULLs; texts of one length in bytes, `per_row` or
    categorical with many categories (few are cheaper joined with their neighbours). Else None."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if typname not in _TEXTS or len(dtype.categories) <= _FEW_CATEGORIES:
            return None
        codes = series.cat.codes.to_numpy()
        if len(codes) and codes.min() < 0:
            return None  # NULLs
        matrix = _text_matrix(dtype.categories.tolist())
        return None if matrix is None else matrix[codes]
    if series.hasnans:
        return None
    if typname in ("timestamptz", "timestamp") and isinstance(dtype, pd.DatetimeTZDtype):
        us = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
        return _field_matrix(us - _PG_EPOCH_US, ">i8")
    if typname in _WIDTHS:
        try:
            array = series.to_numpy() if isinstance(dtype, np.dtype) else series.to_numpy(dtype=dtype.numpy_dtype)
            return _field_matrix(_binary_numbers(array, typname, series.name), _WIDTHS[typname])
        except (AttributeError, TypeError, ValueError, _NoBinary):
            return None
    if typname in _TEXTS and per_row:
        if isinstance(series.array, pd.arrays.ArrowStringArray):  # already Arrow: no Python strings made
            return _text_matrix(series.array.__arrow_array__().combine_chunks())
        return _text_matrix(series.tolist())
    return None


_FEW_CATEGORIES = 256


def _text_matrix(values: list | pa.Array) -> np.ndarray | None:
    """Strings (a list, or an Arrow string array) as binary fields, a row each, when all are strings of one length
    in bytes; else None."""
    if isinstance(values, pa.Array):
        if not len(values) or values.null_count or values.type not in (pa.string(), pa.large_string()):
            return None
        array = values
    elif not values or not _all_strings(values):
        return None
    else:
        array = pa.array(values, pa.string())
    offset_type = np.int64 if array.type == pa.large_string() else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=offset_type)[array.offset:array.offset + len(array) + 1]
    lengths = np.diff(offsets)
    width = int(lengths[0])
    if (lengths != width).any():
        return None
    matrix = _empty_fields(len(values), width)
    if width:  # (strings all empty have no data buffer)
        data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        matrix[:, 4:] = data.reshape(len(values), width)
    return matrix


def _all_strings(values) -> bool:
    return len(values) == 0 or pd.api.types.infer_dtype(values, skipna=False) == "string"


def _field_matrix(numbers: np.ndarray, dtype: str) -> np.ndarray:
    """Numbers as binary fields of one width, a row each: a 4-byte big-endian length, then the number as `dtype`."""
    width = np.dtype(dtype).itemsize
    matrix = _empty_fields(len(numbers), width)
    matrix[:, 4:] = np.asarray(numbers).astype(dtype).view(np.uint8).reshape(-1, width)
    return matrix


def _empty_fields(rows: int, width: int) -> np.ndarray:
    """A (rows, 4 + width) uint8 matrix whose rows start with the big-endian length `width`, the rest to fill."""
    matrix = np.empty((rows, 4 + width), dtype=np.uint8)
    matrix[:, :4] = np.frombuffer(width.to_bytes(4, "big"), dtype=np.uint8)
    return matrix


def _as_bytes(matrix: np.ndarray) -> np.ndarray:
    """Each row of a uint8 matrix as one bytes object."""
    matrix = np.ascontiguousarray(matrix)
    return np.array(matrix.view(f"V{matrix.shape[1]}").ravel().tolist(), dtype=object)


def _binary_parts(series: pd.Series, typname: str | None, per_row: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """A column in COPY's binary format as one part: (codes per row, each distinct value's length and bytes, with
    NULL's last)."""
    dtype = series.dtype
    is_datetime = isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M")
    if typname in ("timestamptz", "timestamp", "date"):
        if not is_datetime or (typname == "timestamptz" and not isinstance(dtype, pd.DatetimeTZDtype)):
            raise _NoBinary(series.name)  # text leaves a naive time's zone to the session, as it always did
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(dtype, pd.DatetimeTZDtype) else series
        codes, uniques = pd.factorize(naive, use_na_sentinel=True)  # NaT: -1
        if typname == "date" and (uniques != uniques.normalize()).any():
            raise _NoBinary(series.name)  # a time of day: text would have PostgreSQL drop it
        if typname == "date":
            numbers, epoch, width = uniques.to_numpy(dtype="datetime64[D]"), _PG_EPOCH_DAYS, ">i4"
        else:
            numbers, epoch, width = uniques.to_numpy(dtype="datetime64[us]"), _PG_EPOCH_US, ">i8"
        return [_with_null(codes, _as_bytes(_field_matrix(numbers.view(np.int64) - epoch, width)))]
    if is_datetime:
        raise _NoBinary(series.name)
    if isinstance(dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy().astype(np.int64), dtype.categories
    elif per_row:
        missing = series.isna().to_numpy()
        codes = np.full(len(series), -1, dtype=np.int64)
        codes[~missing] = np.arange(int((~missing).sum()))
        uniques = series[~missing].array if missing.any() else series.array
    else:
        try:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
        except TypeError:  # unhashable values: leave them to text
            raise _NoBinary(series.name) from None
        codes = codes.astype(np.int64)
    return [_with_null(codes, _binary_values(uniques, typname, series.name))]


def _with_null(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into `values` (-1: NULL) -> codes into `values` with NULL appended."""
    return np.where(codes < 0, len(values), codes), np.append(values, np.array([_BINARY_NULL], dtype=object))


def _binary_values(uniques, typname: str | None, name) -> np.ndarray:
    """Distinct non-missing values -> their binary fields (length and bytes) as a PostgreSQL `typname`."""
    if typname in _TEXTS:
        values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
        if not _all_strings(values):
            raise _NoBinary(name)  # numbers, booleans and the like are left to text's spelling of them
        return np.array([len(b).to_bytes(4, "big") + b for b in map(str.encode, values)], dtype=object)
    if typname in _WIDTHS:
        return _as_bytes(_field_matrix(_binary_numbers(np.asarray(uniques), typname, name), _WIDTHS[typname]))
    raise _NoBinary(name)


def _binary_numbers(array: np.ndarray, typname: str, name) -> np.ndarray:
    """Numbers that a column of `typname` takes exactly, or _NoBinary (text lets PostgreSQL judge the rest)."""
    kind = array.dtype.kind
    if typname in _INTEGERS:
        if kind not in "iub":
            raise _NoBinary(name)
        info = np.iinfo(_INTEGERS[typname])
        if len(array) and (array.min() < info.min or array.max() > info.max):
            raise _NoBinary(name)  # out of range: PostgreSQL says so
        return array
    if (typname in _FLOATS and kind in "iuf") or (typname == "bool" and kind == "b"):
        return array
    raise _NoBinary(name)


def _merge_neighbours(pieces: list[tuple[np.ndarray, np.ndarray]], limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pieces (codes, texts) in order, each run of neighbours with at most `limit` distinct combinations made one
    piece: its codes number the combinations, its texts are theirs joined."""
    merged = [pieces[0]]
    for codes, texts in pieces[1:]:
        last_codes, last_texts = merged[-1]
        joint = last_codes.astype(np.int64) * len(texts) + codes
        if len(last_texts) * len(texts) <= limit:  # every combination: no need to find the ones used
            merged[-1] = (joint, np.array([a + b for a in last_texts.tolist() for b in texts.tolist()], dtype=object))
            continue
        joint, used = pd.factorize(joint)
        if len(used) > limit:
            merged.append((codes, texts))
            continue
        left, right = np.divmod(used, len(texts))
        merged[-1] = (joint, np.array([a + b for a, b in zip(last_texts.take(left).tolist(), texts.take(right).tolist())],
                                      dtype=object))
    return merged


def _row_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """A column's COPY text formatted row by row (no grouping), as one part like _column_parts'."""
    missing = series.isna().to_numpy()
    present = series[~missing] if missing.any() else series
    texts = _texts(present.array)
    codes = np.full(len(series), len(texts) - 1, dtype=np.int64)
    codes[~missing] = np.arange(len(present))
    return [(codes, texts)]


def _column_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """A column's COPY text as one or more parts (codes per row into distinct texts; no -1 codes), which
    concatenated make each row's field."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return _datetime_parts(series)
    if isinstance(dtype, pd.CategoricalDtype):
        texts = _texts(dtype.categories)
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return [(np.where(codes < 0, len(texts) - 1, codes), texts)]
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return [(series.to_numpy().astype(np.int64), np.array(["f", "t"], dtype=object))]
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values: one text per row
        codes, uniques = np.arange(len(series)), pd.Index(series.to_numpy(), dtype=object)
    texts = _texts(uniques)
    codes = codes.astype(np.int64)
    return [(np.where(codes < 0, len(texts) - 1, codes), texts)]


def _texts(uniques) -> np.ndarray:
    """Distinct non-missing values -> their escaped COPY texts, with \\N appended (for code -1)."""
    dtype = getattr(uniques, "dtype", None)
    if dtype is not None and (dtype.kind in "iu") and not (hasattr(uniques, "hasnans") and uniques.hasnans):
        # integers (numpy or nullable: NA is never among the uniques)
        return np.array(list(map(str, np.asarray(uniques, dtype=np.int64 if dtype.kind == "i" else np.uint64).tolist()))
                        + [NULL], dtype=object)
    values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    if isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "b":
        out = ["t" if v else "f" for v in values]
    elif isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "f":
        out = [repr(float(v)) for v in values]
    else:
        out = _string_texts(values)
    return np.array(out + [NULL], dtype=object)


def _string_texts(values: list) -> list[str]:
    """COPY texts of values that are mostly (usually all) strings, escaped only when something needs it."""
    try:
        blob = "\0".join(values)  # fails unless all are strings
    except TypeError:
        return [_text(v) for v in values]
    special = "\\" in blob or "\t" in blob or "\n" in blob or "\r" in blob
    return [v.translate(_ESCAPES) for v in values] if special else values


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value).translate(_ESCAPES)


def _datetime_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """Timestamps as two parts (day and minute; second, fraction and zone), each with few distinct texts. Aware
    timestamps are written in UTC with +00; naive ones without a zone."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if aware else series
    missing = naive.isna().to_numpy()
    us = naive.to_numpy(dtype="datetime64[us]").view(np.int64)
    minute, rest = np.divmod(us, 60_000_000)
    zone = "+00" if aware else ""
    if missing.any():
        minute[missing], rest[missing] = np.iinfo(np.int64).min, -1
    minute_codes, minutes = pd.factorize(minute)
    # numpy formats the distinct minutes as YYYY-MM-DDTHH:MM; COPY wants a space for the T
    minute_texts = np.char.replace(np.datetime_as_string(minutes.astype("datetime64[m]"), unit="m"), "T", " ")
    minute_texts = minute_texts.astype(object)
    minute_texts[minutes == np.iinfo(np.int64).min] = NULL
    rest_codes, rests = pd.factorize(rest)
    # :SS, then .ffffff unless whole, then the zone; "" for a missing one (its minute part is \N)
    second, fraction = np.divmod(rests, 1_000_000)
    rest_texts = np.char.add(np.char.add(":", np.char.zfill(second.astype("U2"), 2)), np.where(
        fraction > 0, np.char.add(".", np.char.zfill(fraction.astype("U6"), 6)), ""))
    rest_texts = np.char.add(rest_texts, zone).astype(object)
    rest_texts[rests < 0] = ""
    return [(minute_codes.astype(np.int64), minute_texts),
            (rest_codes.astype(np.int64), rest_texts)]
