"""Lenient readers for the values podcast feeds carry: pubDates, durations, counts and URLs.

Real feeds are written by hand and by a long tail of publishing tools, so every reader here takes
any string (or None) and returns a value or None; none of them raises.
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

# Above a week a "duration" is a byte count or a timestamp put in the wrong element, not a length.
MAX_DURATION_SECONDS = 7 * 24 * 3600

# --- dates ---------------------------------------------------------------------------------------

# Month names and abbreviations as they appear in real pubDates (English plus the languages that
# publishing tools localise into). A token names a month when it is a prefix (>= 3 letters) of one.
_MONTH_NAMES = {
    1: ("january", "enero", "janeiro", "janvier", "januar", "gennaio", "januari", "ocak", "jan", "ene"),
    2: ("february", "febrero", "fevereiro", "fevrier", "februar", "febbraio", "februari", "subat", "fev"),
    3: ("march", "marzo", "marco", "mars", "marz", "maart", "mart", "maerz"),
    4: ("april", "abril", "avril", "aprile", "nisan", "abr"),
    5: ("may", "mayo", "maio", "mai", "maggio", "maj", "mei", "mayis"),
    6: ("june", "junio", "junho", "juin", "juni", "giugno", "haziran"),
    7: ("july", "julio", "julho", "juillet", "juli", "luglio", "temmuz"),
    8: ("august", "agosto", "aout", "augusti", "augustus", "agustos", "ago", "agu"),
    9: ("september", "septiembre", "setembro", "septembre", "settembre", "eylul", "set", "sept"),
    10: ("october", "octubre", "outubro", "octobre", "oktober", "ottobre", "ekim", "okt", "out"),
    11: ("november", "noviembre", "novembro", "novembre", "kasim"),
    12: ("december", "diciembre", "dezembro", "decembre", "dezember", "dicembre", "aralik", "dez", "dic"),
}

# Fixed offsets (minutes east of UTC). RFC 822 defines UT/GMT and the US zones; the rest are common
# in the wild. CET/CEST are handled separately: feeds use them loosely for "Central European time".
_TZ_OFFSETS = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
    "pst": -480, "pdt": -420, "akst": -540, "akdt": -480, "hst": -600, "ast": -240, "adt": -180,
    "nst": -210, "ndt": -150, "bst": 60, "west": 60, "eet": 120, "eest": 180, "msk": 180,
    "jst": 540, "kst": 540, "hkt": 480, "sgt": 480, "awst": 480, "acst": 570, "aest": 600,
    "aedt": 660, "nzst": 720, "nzdt": 780,
}
_CENTRAL_EUROPE = {"cet", "cest", "mez", "mesz"}
_KNOWN_ZONES = set(_TZ_OFFSETS) | _CENTRAL_EUROPE

_TIME = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{1,2})(?:[:,](\d{1,2})(?:\.\d+)?)?(?:\s*([ap])\.?m\.?(?![a-z]))?", re.IGNORECASE
)
_TZ_AFTER_TIME = re.compile(
    r"\s*,?\s*(?:(?:gmt|utc|ut)?\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)|([a-z]{1,5})(?![a-z]))", re.IGNORECASE
)
_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(z|utc|gmt|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")


def _fold(text: str) -> str:
    """Lower-case without accents, so 'Mié', 'Ağu' and 'Fév' compare as ASCII."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _month(token: str) -> int | None:
    word = _fold(token).rstrip(".")
    if len(word) < 3:
        return None
    for number, names in _MONTH_NAMES.items():
        if any(name.startswith(word) or word == name for name in names):
            return number
    return None


def _year(value: str) -> int | None:
    year = int(value)
    if len(value) <= 2:
        year += 2000 if year < 50 else 1900
    return year if 1900 <= year <= 2100 else None


def _central_europe_offset(local: datetime) -> int:
    """CET (+1) or CEST (+2) by the EU summer-time rule, whichever label the feed used."""
    def last_sunday(month: int) -> datetime:
        day = datetime(local.year, month, 31)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    as_utc = local - timedelta(hours=1)
    summer = last_sunday(3) + timedelta(hours=1) <= as_utc < last_sunday(10) + timedelta(hours=1)
    return 120 if summer else 60


def _offset_minutes(match: re.Match | None, local: datetime) -> int:
    if match is None:
        return 0
    sign, hours, minutes, name = match.groups()
    if sign:
        return (1 if sign == "+" else -1) * (int(hours) * 60 + int(minutes or 0))
    name = name.lower()
    if name in _CENTRAL_EUROPE:
        return _central_europe_offset(local)
    return _TZ_OFFSETS.get(name, 0)


def _date_from_tokens(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) from the date part of a pubDate: '4 Dec 2022', 'July 8, 2013', '6/24/2016'."""
    text = re.sub(r"\bju1\b", "Jul", text, flags=re.IGNORECASE)  # a digit-one typo seen in real feeds
    words = re.findall(r"[^\W\d_]+\.?", text)
    numbers = re.findall(r"\d+", text)
    months = [m for m in (_month(w) for w in words) if m]
    if months:
        month = months[-1]  # 'Mar, 28 Abr 2013': a Spanish weekday can look like a month
        four = [n for n in numbers if len(n) == 4]
        if four:
            year = _year(four[0])
            rest = [n for n in numbers if n != four[0] and len(n) <= 2]
        elif len(numbers) >= 2:
            year, rest = _year(numbers[1]), numbers[:1]
        else:
            return None
        if not rest or year is None:
            return None
        return year, month, int(rest[0])
    parts = re.fullmatch(r"\D*(\d{1,4})([/.-])(\d{1,2})\2(\d{2,4})\D*", text)
    if not parts:
        return None
    first, separator, second, year_text = parts.groups()
    if len(first) == 4:
        return _year(first), int(second), int(year_text)
    year = _year(year_text)
    if year is None:
        return None
    a, b = int(first), int(second)
    if separator == "/" and a <= 12:
        return year, a, b  # US order, as in '02/03/2023'
    return year, b, a


def parse_pub_date(value: str | None) -> datetime | None:
    """A UTC-aware datetime from an RSS pubDate (RFC 822 and its common broken variants), or None."""
    if not value or not isinstance(value, str):
        return None
    text = " ".join(_TAG.sub(" ", value).split())
    if not text:
        return None
    try:
        return _parse_date_text(text)
    except (ValueError, OverflowError):
        return None


def _parse_date_text(text: str) -> datetime | None:
    text = re.sub(r"^(\d{4})(\d{2})(\d{2})T", r"\1-\2-\3T", text)  # ISO 8601 basic: 20161007T14:51:44
    iso = _ISO.match(text)
    if iso:
        year, month, day, hour, minute, second, zone = iso.groups()
        local = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        offset = 0
        if zone and zone.lower() not in ("z", "utc", "gmt"):
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        return (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
    if re.fullmatch(r"\d{9,10}", text):  # Unix seconds, seen in hand-rolled feeds
        return datetime.fromtimestamp(int(text), tz=UTC)

    time_match = _TIME.search(text)
    date_part = text[: time_match.start()] if time_match else text
    ymd = _date_from_tokens(date_part) if date_part.strip() else None
    if ymd is None and time_match:  # 'Jun 5 2013 10:00' with the time before some date parts
        ymd = _date_from_tokens(text[: time_match.start()] + " " + text[time_match.end():])
    if ymd is None or ymd[0] is None:
        return None
    year, month, day = ymd
    local = datetime(year, month, day)
    zone = None
    if time_match:
        hour, minute, second, meridiem = time_match.groups()
        hour, minute, second = int(hour), int(minute), int(second or 0)
        if hour > 24 or minute > 60 or second > 61:
            return None
        if meridiem and hour <= 12:
            hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
        local += timedelta(hours=hour, minutes=minute, seconds=second)
        zone = _TZ_AFTER_TIME.match(text, time_match.end())
        if zone and zone.group(4) and zone.group(4).lower() not in _KNOWN_ZONES:
            zone = None  # a word after the time that is not a zone: read the time as UTC
    return (local - timedelta(minutes=_offset_minutes(zone, local))).replace(tzinfo=UTC)


# --- durations -----------------------------------------------------------------------------------

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_UNIT_PART = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(h(?:ours?|rs?)?|m(?:in(?:ute)?s?)?|s(?:ec(?:ond)?s?)?)(?![a-z])", re.IGNORECASE
)
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?T?(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?", re.IGNORECASE)


def _whole_seconds(value: float) -> int | None:
    """None for NaN, negatives, 0 (a placeholder for 'unknown') and implausibly long values."""
    if math.isnan(value) or value < 0 or value > MAX_DURATION_SECONDS:
        return None
    return round(value) or None


def parse_duration(value: str | float | None) -> int | None:
    """Seconds from an itunes:duration: '1:02:03', '62:03', '3723', '3723.4', '1h 2m 3s', 'PT1H2M'."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _whole_seconds(float(value))
    text = _TAG.sub(" ", str(value)).strip().lower()
    text = re.sub(r"^duration\s*:?\s*", "", text).strip(" \t\"'()[].")
    if re.fullmatch(r"\d+(?::\d+){1,2}\s*(?:min(?:ute)?s?)", text):  # '45:10 minutes'
        text = text.rstrip("minutes ")
    if not text:
        return None
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return _whole_seconds(float(text))
        if re.fullmatch(r"\d+(?::\d+){1,2}(?:[.,]\d+)?", text):
            *head, last = text.split(":")
            hours, minutes = [int(p) for p in head] if len(head) == 2 else [0, int(head[0])]
            return _whole_seconds(hours * 3600 + minutes * 60 + float(last.replace(",", ".")))
        iso = _ISO_DURATION.fullmatch(text.upper())
        if iso and any(iso.groups()):
            days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
            return _whole_seconds(days * 86400 + hours * 3600 + minutes * 60 + seconds)
        parts = _UNIT_PART.findall(text)
        if parts and not _UNIT_PART.sub("", text).strip(" ,.and"):
            total = sum(float(n.replace(",", ".")) * _UNIT_SECONDS[unit[0].lower()] for n, unit in parts)
            return _whole_seconds(total)
    except (ValueError, OverflowError):
        return None
    return None


# --- numbers and URLs ----------------------------------------------------------------------------

def parse_positive_int(value: object) -> int | None:
    """A whole number > 0 from '3', ' 3 ', '3.0'; None for '-1', '0', '3.5', 'three' or absurdly large."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d+(?:\.0+)?", text):
        return None
    number = int(text.split(".")[0])
    return number if 1 <= number < 2**31 else None


def parse_byte_length(value: object) -> int | None:
    """Enclosure length in bytes; None when missing, junk, negative or 0 (the usual 'unknown')."""
    if value is None:
        return None
    text = str(value).strip().replace(",", "")
    if not re.fullmatch(r"\d+(?:\.\d+)?", text):
        return None
    number = int(float(text))
    return number if 0 < number < 2**63 else None


def absolute_url(url: str | None, base: str = "") -> str:
    """Trimmed URL; protocol-relative becomes https:, relative is resolved against base when it can be."""
    url = (url or "").strip()
    if not url:
        return ""
    if url.startswith("//"):
        return "https:" + url
    try:
        if not urlsplit(url).scheme and base and urlsplit(base).scheme:
            return urljoin(base, url)
    except ValueError:  # e.g. "Invalid IPv6 URL" for a stray '['
        pass
    return url


def is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
