"""Access-log parsing: combined, CloudFront and CSV lines become typed raw requests; bad lines are reported."""
from __future__ import annotations

import gzip
import io
import random

import numpy as np
import pandas as pd
import pytest

from services.errors import ValidationError
from services.measurement import logs
from services.measurement.logs import (COLUMNS, LogLineError, count_lines, file_fingerprint, fingerprint_and_lines,
                                       iter_log_chunks)

IPHONE = "AppleCoreMedia/1.0.0.21A360 (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)"

COMBINED_GOOD = [
    # line 1: IPv4, offset -0700
    f'203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] "GET /shows/a/ep1.mp3 HTTP/1.1" 206 2326 "-" "{IPHONE}"',
    # line 2: IPv6 client, HEAD, "-" bytes, a referer
    ('2001:db8:85a3::8a2e:370:7334 - - [10/Oct/2023:23:59:59 +0000] "HEAD /shows/a/ep1.mp3 HTTP/2.0" 200 - '
     '"https://podcasts.example.com/show" "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"'),
    # line 3: Apache escapes quotes in the agent; a user name; extra trailing fields; +0530 crosses midnight
    ('198.51.100.7 - frank [01/Jan/2024:02:00:00 +0530] "GET /shows/b/ep2.mp3?utm_source=rss HTTP/1.0" 200 5120 '
     '"-" "Lavf/58.76.100 \\"quoted\\" client" "cdn.example.fm" 0.003'),
    # line 4: nginx escapes non-ASCII bytes as \xHH; an absolute (proxy-style) request target
    ('192.0.2.33 - - [29/Feb/2024:12:00:00 +0100] "GET https://media.example.org/c/ep3.mp3 HTTP/1.1" 200 1 '
     '"-" "Caf\\xC3\\xA9Player/2.0 \\x22beta\\x22"'),
    # line 5: raw UTF-8 in the agent
    '192.0.2.34 - - [29/Feb/2024:12:00:01 +0100] "GET /c/ep3.mp3 HTTP/1.1" 304 0 "-" "Player FM/4.1 (Ñandú)"',
]


def parse_all(source, fmt, **kwargs):
    chunks = list(iter_log_chunks(source, fmt, **kwargs))
    rows = pd.concat([c.rows for c in chunks], ignore_index=True) if chunks else pd.DataFrame(columns=COLUMNS)
    # Text columns come as Categoricals, each chunk its own: compared as strings, however the log was chunked.
    rows = rows.astype({c: "str" for c in rows.columns if isinstance(rows[c].dtype, pd.CategoricalDtype)})
    return rows, [e for c in chunks for e in c.errors], chunks


def write(tmp_path, name, text, newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


# -- combined ----------------------------------------------------------------------------------------------

def test_combined_lines_become_typed_requests(tmp_path):
    path = write(tmp_path, "access.log", "\n".join(COMBINED_GOOD) + "\n")
    rows, errors, _ = parse_all(path, "combined", host="cdn.example.fm")

    assert errors == []
    assert list(rows.columns) == COLUMNS
    assert str(rows["ts"].dtype) == "datetime64[us, UTC]"
    assert rows["status"].dtype == np.int64 and str(rows["bytes"].dtype) == "Int64"
    assert rows["line_no"].tolist() == [1, 2, 3, 4, 5]
    assert rows["ts"].tolist() == [
        pd.Timestamp("2023-10-10 20:55:36", tz="UTC"), pd.Timestamp("2023-10-10 23:59:59", tz="UTC"),
        pd.Timestamp("2023-12-31 20:30:00", tz="UTC"), pd.Timestamp("2024-02-29 11:00:00", tz="UTC"),
        pd.Timestamp("2024-02-29 11:00:01", tz="UTC")]
    assert rows["ip"].tolist() == ["203.0.113.9", "2001:db8:85a3::8a2e:370:7334", "198.51.100.7", "192.0.2.33",
                                   "192.0.2.34"]
    assert rows["method"].tolist() == ["GET", "HEAD", "GET", "GET", "GET"]
    assert rows["status"].tolist() == [206, 200, 200, 200, 304]
    assert rows["bytes"].tolist() == [2326, pd.NA, 5120, 1, 0]
    assert rows["url"].tolist() == [
        "https://cdn.example.fm/shows/a/ep1.mp3", "https://cdn.example.fm/shows/a/ep1.mp3",
        "https://cdn.example.fm/shows/b/ep2.mp3?utm_source=rss", "https://media.example.org/c/ep3.mp3",
        "https://cdn.example.fm/c/ep3.mp3"]
    assert rows["url_absolute"].all()
    assert rows["user_agent"].tolist() == [
        IPHONE, "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", 'Lavf/58.76.100 "quoted" client',
        'CaféPlayer/2.0 "beta"', "Player FM/4.1 (Ñandú)"]
    assert rows["referer"].isna().tolist() == [True, False, True, True, True]
    assert rows["referer"][1] == "https://podcasts.example.com/show"
    assert rows["range"].isna().all()


def test_text_columns_come_as_categoricals_of_their_distinct_values(tmp_path):
    """The import matches, hashes and writes each distinct agent, URL and address once, by these codes."""
    path = write(tmp_path, "access.log", "\n".join(COMBINED_GOOD * 2 + ["broken"] + COMBINED_GOOD))
    (chunk,) = list(iter_log_chunks(path, "combined", host="h.fm"))
    for name in ("ip", "user_agent", "referer", "method", "url", "range"):
        assert isinstance(chunk.rows[name].dtype, pd.CategoricalDtype), name
    assert list(chunk.rows["method"].cat.categories) == ["GET", "HEAD"]
    assert chunk.rows["referer"].cat.categories.tolist() == ["https://podcasts.example.com/show"]
    assert chunk.rows["user_agent"].tolist() == [
        r.user_agent for r in parse_all(path, "combined", host="h.fm")[0].itertuples()]


def test_combined_without_a_host_keeps_paths_and_marks_them(tmp_path):
    path = write(tmp_path, "access.log", "\n".join(COMBINED_GOOD))
    rows, _, _ = parse_all(path, "combined")
    assert rows["url"][0] == "/shows/a/ep1.mp3"
    assert rows["url_absolute"].tolist() == [False, False, False, True, False]


def test_combined_bad_lines_are_reported_with_line_numbers_and_reasons(tmp_path):
    lines = [
        COMBINED_GOOD[0],
        '203.0.113.9 - - [31/Feb/2024:10:00:00 +0000] "GET /a.mp3 HTTP/1.1" 200 10 "-" "x"',  # 2 no such day
        "this is not a log line",  # 3
        '203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] "GET /a.mp3 HTTP/1.1" 2OO 10 "-" "x"',  # 4
        COMBINED_GOOD[1],
        '203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] "-" 400 0 "-" "-"',  # 6 empty request
        '203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] "GET /a.mp3 HTTP/1.1" 200 12k "-" "x"',  # 7
        "",  # 8 blank: skipped, not an error
        'not-an-ip - - [10/Oct/2023:13:55:36 -0700] "GET /a.mp3 HTTP/1.1" 200 1 "-" "x"',  # 9
        '203.0.113.9 - - [10/Oct/2023 13:55:36] "GET /a.mp3 HTTP/1.1" 200 1 "-" "x"',  # 10
        '203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] "GET /a.mp3 HTTP/1.1" 200 1',  # 11 common, no agent
        COMBINED_GOOD[2],
    ]
    path = write(tmp_path, "access.log", "\n".join(lines) + "\n")
    rows, errors, _ = parse_all(path, "combined", host="h.fm")

    assert rows["line_no"].tolist() == [1, 5, 12]
    assert [(e.line_no, e.reason) for e in errors] == [
        (2, "bad timestamp"), (3, "unparseable line"), (4, "bad status"), (6, "bad request line"),
        (7, "bad bytes"), (9, "bad client ip"), (10, "bad timestamp"),
        (11, "missing or malformed referer/user-agent")]
    assert errors[1] == LogLineError(3, "unparseable line", "this is not a log line")


def test_crlf_line_endings_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "access.log"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(COMBINED_GOOD).encode() + b"\r\n")
    rows, errors, _ = parse_all(path, "combined", host="h.fm")
    assert errors == [] and len(rows) == 5
    assert not rows["user_agent"].str.contains("\r").any()
    assert rows["ip"][0] == "203.0.113.9"


def test_excerpts_are_cut(tmp_path):
    path = write(tmp_path, "access.log", "x" * 5000)
    _, errors, _ = parse_all(path, "combined")
    assert errors[0].line_no == 1 and len(errors[0].text_excerpt) == logs.EXCERPT_CHARS


def test_vectorised_reader_agrees_with_the_regex_reader_on_mangled_lines():
    """The fast path may only take lines the reference regex takes, with the same values."""
    rnd = random.Random(3)
    alphabet = ' "[]\\-/:+x0\t.'
    lines = []
    for i in range(3000):
        line = rnd.choice(COMBINED_GOOD)
        for _ in range(rnd.choice([0, 0, 1, 2])):
            pos = rnd.randrange(len(line))
            op = rnd.random()
            if op < 0.4:
                line = line[:pos] + line[pos + 1:]
            elif op < 0.8:
                line = line[:pos] + rnd.choice(alphabet) + line[pos:]
            else:
                line = line[:pos] + rnd.choice(alphabet) + line[pos + 1:]
        lines.append(line)
    data = "\n".join(lines).encode()

    parsed = logs._parse_combined(data, 1, "h.fm")
    reference = logs._assemble(*logs._combined_regex(data, np.arange(1, len(lines) + 1)), "h.fm")

    pd.testing.assert_frame_equal(parsed.rows, reference.rows)
    assert parsed.errors == reference.errors
    assert 0 < len(parsed.errors) < len(lines) // 2


def test_vectorised_timestamps_agree_with_the_regex_reader():
    """Times are read per run of lines sharing a date, hour and zone, minutes and seconds per line: any byte of
    any time wrong, in a run or at its edge, is judged as the regex reader judges it."""
    rnd = random.Random(11)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = []
    for hour in range(40):
        day, month, zone = rnd.randint(1, 31), rnd.choice(months), rnd.choice(["+0000", "-0700", "+0530", "+1400"])
        for _ in range(rnd.randint(1, 60)):
            ts = f"{day:02d}/{month}/2024:{hour % 24:02d}:{rnd.randint(0, 61):02d}:{rnd.randint(0, 61):02d} {zone}"
            if rnd.random() < 0.25:
                pos = rnd.randrange(len(ts))
                ts = ts[:pos] + rnd.choice("0123456789:/+- aJx") + ts[pos + 1:]
            lines.append(f'192.0.2.{rnd.randint(1, 200)} - - [{ts}] "GET /a.mp3 HTTP/1.1" 200 1000 "-" "App/1.0"')
    data = "\n".join(lines).encode()

    parsed = logs._parse_combined(data, 1, "h.fm")
    reference = logs._assemble(*logs._combined_regex(data, np.arange(1, len(lines) + 1)), "h.fm")

    pd.testing.assert_frame_equal(parsed.rows, reference.rows)
    assert parsed.errors == reference.errors
    assert len(lines) // 2 < len(parsed.rows) < len(lines) and len(parsed.errors) > 50


def test_well_formed_lines_take_the_vectorised_path():
    """Speed depends on it: only odd lines may fall back to the per-line regex."""
    long_agent = "Mozilla/5.0 " + "x" * 400
    long_line = (f'192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET /{"p" * 300}.mp3 HTTP/1.1" 200 123456789012345678 '
                 f'"-" "{long_agent}"')
    lines = [*COMBINED_GOOD, long_line]
    candidates, slow, _ = logs._combined_vectorised("\n".join(lines).encode())
    assert slow.tolist() == []
    assert candidates.user_agent[-1] == long_agent and candidates.nbytes[-1] == 123456789012345678
    assert candidates.target[-1] == "/" + "p" * 300 + ".mp3"


def test_huge_byte_counts_are_bad_bytes(tmp_path):
    line = '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET /a.mp3 HTTP/1.1" 200 1234567890123456789 "-" "a"'
    rows, errors, _ = parse_all(write(tmp_path, "a.log", line), "combined")
    assert rows.empty and [(e.line_no, e.reason) for e in errors] == [(1, "bad bytes")]


def test_fields_are_grouped_by_their_bytes_in_any_order_and_length():
    from services.measurement.logs.buffer_fields import _map_fields

    long_a, long_b = "a" * 300 + "x", "a" * 300 + "y"  # past any fixed-width view, differing in the last byte only
    values = ["b", long_a, "", "b", long_b, long_a, "", "bb"]
    data = b"|".join(v.encode() for v in values)
    begin = np.cumsum([0] + [len(v) + 1 for v in values[:-1]])
    end = begin + np.array([len(v) for v in values])
    grouped = _map_fields(data, begin, end, lambda v: v.decode() or None)  # "" -> missing, as for a "-" field
    assert [None if pd.isna(v) else v for v in grouped] == [v or None for v in values]
    assert sorted(grouped.categories) == sorted({"b", long_a, long_b, "bb"})
    assert len(set(grouped.codes.tolist())) == 5  # four values and missing
    # Fields that do not come one after another in the buffer (here backwards) are grouped the same way.
    backwards = _map_fields(data, begin[::-1], end[::-1], lambda v: v.decode() or None)
    assert [None if pd.isna(v) else v for v in backwards] == [v or None for v in values[::-1]]
    assert len(_map_fields(data, begin[:0], end[:0], bytes.decode)) == 0


# -- chunks, files and streams -----------------------------------------------------------------------------

def ten_line_log(fmt):
    """A 10-line file with bad lines at 4 and 9 (and, for CSV, the header at 1)."""
    if fmt == "combined":
        good = [f'10.0.0.{i} - - [10/Oct/2023:13:55:{i:02d} +0000] "GET /ep{i}.mp3 HTTP/1.1" 200 {i} "-" "a"'
                for i in range(1, 11)]
    elif fmt == "cloudfront":
        good = ["#Version: 1.0", "#Fields: " + " ".join(logs.CLOUDFRONT_DEFAULT_FIELDS)] + [
            cloudfront_line({"c-ip": f"10.0.0.{i}", "time": f"13:55:{i:02d}", "cs-uri-stem": f"/ep{i}.mp3",
                             "sc-bytes": str(i)})
            for i in range(3, 11)]
    else:
        good = ["timestamp,ip,user_agent,referer,method,url,status,bytes,range"] + [
            f"2023-10-10T13:55:{i:02d}Z,10.0.0.{i},a,,GET,/ep{i}.mp3,200,{i}," for i in range(2, 11)]
    good[3] = "broken line 4"
    good[8] = "broken line 9"
    return "\n".join(good) + "\n"


@pytest.mark.parametrize("fmt", ["combined", "cloudfront", "csv"])
def test_chunk_boundaries_neither_lose_nor_duplicate_lines(tmp_path, fmt):
    path = write(tmp_path, f"log.{fmt}", ten_line_log(fmt))
    whole, whole_errors, _ = parse_all(path, fmt, host="h.fm")
    rows, errors, chunks = parse_all(path, fmt, host="h.fm", chunk_lines=3)

    assert [(c.first_line, c.last_line) for c in chunks][-1][1] == 10
    covered = [n for c in chunks for n in range(c.first_line, c.last_line + 1)]
    assert covered == list(range(covered[0], 11)) and covered[0] in (1, 2)
    assert [e.line_no for e in errors] == [4, 9]
    assert sorted(rows["line_no"].tolist() + [4, 9]) == list(range(11 - len(rows) - 2, 11))
    pd.testing.assert_frame_equal(rows, whole)
    assert errors == whole_errors


def test_chunk_lines_of_three_on_a_ten_line_combined_log(tmp_path):
    path = write(tmp_path, "access.log", ten_line_log("combined"))
    _, _, chunks = parse_all(path, "combined", chunk_lines=3)
    assert [(c.first_line, c.last_line) for c in chunks] == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert [c.rows["line_no"].tolist() for c in chunks] == [[1, 2, 3], [5, 6], [7, 8], [10]]


@pytest.mark.parametrize("fmt", ["combined", "cloudfront", "csv"])
def test_a_ramp_starts_with_smaller_chunks_and_parses_the_same_rows(tmp_path, fmt):
    path = write(tmp_path, f"log.{fmt}", ten_line_log(fmt))
    whole, whole_errors, _ = parse_all(path, fmt, host="h.fm")
    rows, errors, chunks = parse_all(path, fmt, host="h.fm", chunk_lines=4, ramp=True)

    sizes = [c.last_line - c.first_line + 1 for c in chunks]
    assert sizes[:3] == [1, 2, 4]  # chunk_lines // 4, // 2, then chunk_lines (// 8 is none)
    assert sum(sizes) == chunks[-1].last_line - chunks[0].first_line + 1
    pd.testing.assert_frame_equal(rows, whole)
    assert errors == whole_errors


def test_chunk_sizes_ramp_up_then_hold():
    from itertools import islice

    from services.measurement.logs.reading import chunk_sizes

    assert list(islice(chunk_sizes(100_000, ramp=True), 5)) == [12_500, 25_000, 50_000, 100_000, 100_000]
    assert list(islice(chunk_sizes(3), 3)) == [3, 3, 3]


def test_gzip_is_read_transparently_and_fingerprints_the_content(tmp_path):
    text = ten_line_log("combined")
    plain = write(tmp_path, "access.log", text)
    packed = tmp_path / "access.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    renamed = tmp_path / "gzipped-without-suffix"
    renamed.write_bytes(packed.read_bytes())

    expected, _, _ = parse_all(plain, "combined")
    for path in (packed, renamed):
        rows, errors, _ = parse_all(path, "combined")
        pd.testing.assert_frame_equal(rows, expected)
        assert [e.line_no for e in errors] == [4, 9]
    assert file_fingerprint(packed) == file_fingerprint(plain) == file_fingerprint(renamed)
    assert file_fingerprint(plain) != file_fingerprint(write(tmp_path, "other.log", text + "x\n"))
    assert count_lines(plain) == count_lines(packed) == 10
    assert fingerprint_and_lines(packed) == (file_fingerprint(plain), 10)  # one read for both, as imports do
    assert count_lines(write(tmp_path, "no-final-newline.log", "a\nb")) == 2
    assert count_lines(write(tmp_path, "empty.log", "")) == 0


def test_file_objects_binary_text_and_unpeekable(tmp_path):
    text = ten_line_log("combined")
    expected, _, _ = parse_all(write(tmp_path, "a.log", text), "combined")

    class Upload:  # only read(n), like some upload streams
        def __init__(self, data):
            self._f = io.BytesIO(data)

        def read(self, n=-1):
            return self._f.read(n)

    for source in (io.BytesIO(text.encode()), io.StringIO(text), Upload(gzip.compress(text.encode()))):
        rows, _, _ = parse_all(source, "combined")
        pd.testing.assert_frame_equal(rows, expected)
    caller_owned = io.BytesIO(text.encode())
    parse_all(caller_owned, "combined")
    assert not caller_owned.closed


def test_unknown_format_and_bad_chunk_size_are_refused(tmp_path):
    path = write(tmp_path, "a.log", "")
    with pytest.raises(ValidationError):
        list(iter_log_chunks(path, "w3c"))
    with pytest.raises(ValidationError):
        list(iter_log_chunks(path, "combined", chunk_lines=0))
    assert parse_all(path, "combined")[2] == []


# -- CloudFront --------------------------------------------------------------------------------------------

CLOUDFRONT_EXAMPLE = {
    "date": "2019-12-04", "time": "21:02:31", "x-edge-location": "LAX1", "sc-bytes": "392", "c-ip": "192.0.2.100",
    "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net", "cs-uri-stem": "/ep.mp3", "sc-status": "200",
    "cs(Referer)": "-", "cs(User-Agent)": "AppleCoreMedia/1.0.0.17A577%20(iPhone;%20U;%20CPU%20OS%2013_0)",
    "cs-uri-query": "-", "cs(Cookie)": "-", "x-edge-result-type": "Hit", "x-edge-request-id": "SOX4xwn4XV6Q4rgb",
    "x-host-header": "media.example.fm", "cs-protocol": "https", "cs-bytes": "184", "time-taken": "0.002",
    "x-forwarded-for": "-", "ssl-protocol": "TLSv1.2", "ssl-cipher": "ECDHE-RSA-AES128-GCM-SHA256",
    "x-edge-response-result-type": "Hit", "cs-protocol-version": "HTTP/2.0", "fle-status": "-",
    "fle-encrypted-fields": "-", "c-port": "11040", "time-to-first-byte": "0.001",
    "x-edge-detailed-result-type": "Hit", "sc-content-type": "audio/mpeg", "sc-content-len": "78",
    "sc-range-start": "-", "sc-range-end": "-"}


def cloudfront_line(changes: dict[str, str] | None = None) -> str:
    fields = {**CLOUDFRONT_EXAMPLE, **(changes or {})}
    return "\t".join(fields[f] for f in logs.CLOUDFRONT_DEFAULT_FIELDS)


def test_cloudfront_standard_log(tmp_path):
    lines = [
        "#Version: 1.0",
        "#Fields: " + " ".join(logs.CLOUDFRONT_DEFAULT_FIELDS),
        cloudfront_line(),
        cloudfront_line({"c-ip": "2001:db8::7", "cs-method": "HEAD", "x-host-header": "-", "cs-uri-query": "a=1&b=2",
                         "sc-range-start": "0", "sc-range-end": "1", "sc-status": "206"}),
        cloudfront_line({"cs-uri-stem": "/my%2520show/ep%25201.mp3", "cs(Referer)": "https://example.com/p?q=a%20b"}),
        "2019-12-04\t21:02:31\ttoo few fields",
        cloudfront_line({"sc-status": "abc"}),
        cloudfront_line({"date": "2019-13-04"}),
        cloudfront_line({"sc-bytes": "-1"}),
    ]
    rows, errors, _ = parse_all(write(tmp_path, "cf.log", "\n".join(lines) + "\n", newline="\r\n"), "cloudfront")

    assert rows["line_no"].tolist() == [3, 4, 5]
    assert rows["url"].tolist() == ["https://media.example.fm/ep.mp3",
                                    "https://d111111abcdef8.cloudfront.net/ep.mp3?a=1&b=2",
                                    "https://media.example.fm/my%20show/ep%201.mp3"]
    assert rows["user_agent"][0] == "AppleCoreMedia/1.0.0.17A577 (iPhone; U; CPU OS 13_0)"
    assert rows["referer"].tolist()[2] == "https://example.com/p?q=a b" and pd.isna(rows["referer"][0])
    assert rows["ip"].tolist() == ["192.0.2.100", "2001:db8::7", "192.0.2.100"]
    assert rows["method"].tolist() == ["GET", "HEAD", "GET"]
    assert rows["status"].tolist() == [200, 206, 200]
    assert rows["bytes"].tolist() == [392, 392, 392]
    assert rows["range"][1] == "bytes=0-1" and pd.isna(rows["range"][0])
    assert rows["ts"][0] == pd.Timestamp("2019-12-04 21:02:31", tz="UTC")
    assert [(e.line_no, e.reason.split(",")[0]) for e in errors] == [
        (6, "expected 33 tab-separated fields"), (7, "bad status"), (8, "bad timestamp"), (9, "bad bytes")]


def test_cloudfront_fields_line_decides_the_columns_and_range_may_be_absent(tmp_path):
    fields = "date time c-ip cs-method cs(Host) cs-uri-stem sc-status sc-bytes cs(User-Agent)"
    lines = ["#Version: 1.0", f"#Fields: {fields}",
             "2020-01-02\t03:04:05\t198.51.100.1\tGET\td1.cloudfront.net\t/e.mp3\t200\t10\tPodcasts/1.0%20x"]
    rows, errors, _ = parse_all(write(tmp_path, "cf.log", "\n".join(lines)), "cloudfront")
    assert errors == []
    assert rows.loc[0, "url"] == "https://d1.cloudfront.net/e.mp3"
    assert rows.loc[0, "user_agent"] == "Podcasts/1.0 x"
    assert pd.isna(rows.loc[0, "range"]) and pd.isna(rows.loc[0, "referer"])

    with pytest.raises(ValidationError):
        list(iter_log_chunks(write(tmp_path, "bad.log", "#Fields: date time c-ip\n"), "cloudfront"))


# -- CSV ---------------------------------------------------------------------------------------------------

def test_csv_log(tmp_path):
    lines = [
        "timestamp,ip,user_agent,referer,method,url,status,bytes,range",
        '2024-03-01T10:00:00+02:00,203.0.113.5,"Spotify/8.9 iOS/17.2 (iPhone15,2)",,GET,/ep.mp3,206,1024,bytes=0-1023',
        '2024-03-01T10:00:00Z,2001:db8::5,"Agent with ""quotes""",https://ref.example/,HEAD,https://cdn.x.fm/e.mp3,200,,',
        "2024-03-01 10:00:00,203.0.113.6,Überplayer/1.0,-,GET,/ep.mp3,200,-,",
        "not a time,203.0.113.5,a,,GET,/ep.mp3,200,1,",
        "2024-03-01T10:00:00Z,203.0.113.5,a,,GET,/ep.mp3,OK,1,",
        "2024-03-01T10:00:00Z,203.0.113.5,a,,GET,/ep.mp3,200,many,",
        "2024-03-01T10:00:00Z,203.0.113.5,a",
        "",
    ]
    rows, errors, _ = parse_all(write(tmp_path, "log.csv", "\n".join(lines), newline="\r\n"), "csv", host="h.fm")

    assert rows["line_no"].tolist() == [2, 3, 4]
    assert rows["ts"].tolist() == [pd.Timestamp("2024-03-01 08:00", tz="UTC")] + \
        [pd.Timestamp("2024-03-01 10:00", tz="UTC")] * 2
    assert rows["user_agent"].tolist() == ["Spotify/8.9 iOS/17.2 (iPhone15,2)", 'Agent with "quotes"', "Überplayer/1.0"]
    assert rows["url"].tolist() == ["https://h.fm/ep.mp3", "https://cdn.x.fm/e.mp3", "https://h.fm/ep.mp3"]
    assert rows["method"].tolist() == ["GET", "HEAD", "GET"]
    assert rows["bytes"].tolist() == [1024, pd.NA, pd.NA]
    assert rows["range"][0] == "bytes=0-1023" and rows["range"][1:].isna().all()
    assert rows["referer"].isna().tolist() == [True, False, True]
    assert [(e.line_no, e.reason) for e in errors] == [
        (5, "bad timestamp"), (6, "bad status"), (7, "bad bytes"), (8, "expected 9 CSV fields, found 3")]


def test_csv_needs_its_core_columns_and_defaults_the_method(tmp_path):
    with pytest.raises(ValidationError):
        list(iter_log_chunks(write(tmp_path, "a.csv", "timestamp,ip,url\n"), "csv"))
    path = write(tmp_path, "b.csv", "Timestamp,IP,User_Agent,URL,Status\n2024-01-01T00:00:00Z,192.0.2.1,a,/e.mp3,200\n")
    rows, errors, _ = parse_all(path, "csv")
    assert errors == [] and rows.loc[0, "method"] == "GET" and not rows.loc[0, "url_absolute"]


def test_an_address_with_the_shape_but_not_the_value_of_an_ip_is_a_bad_line():
    import io

    from services.measurement.logs import iter_log_chunks

    text = ('999.1.2.3 - - [26/Nov/2026:05:00:00 +0000] "GET /a.mp3 HTTP/1.1" 200 10 "-" "x"\n'
            '198.51.100.1 - - [26/Nov/2026:05:00:00 +0000] "GET /a.mp3 HTTP/1.1" 200 10 "-" "x"\n')
    chunks = list(iter_log_chunks(io.BytesIO(text.encode()), "combined", host="media.example.com"))
    assert [e.line_no for c in chunks for e in c.errors] == [1]
    assert [e.reason for c in chunks for e in c.errors] == ["bad client ip"]
    assert sum(len(c.rows) for c in chunks) == 1
