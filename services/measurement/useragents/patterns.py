"""OPAWG user-agents-v2 pattern files: loading them and translating their JavaScript regexes to Python `re`.

The OPAWG patterns are written for JavaScript `RegExp` (no flags; the upstream test runner and OP3 both use
`/pattern/.test(value)`). Python's `re` differs in a few places, so every pattern goes through
`translate_js_pattern` before it is compiled:

- `$` means "end of input" in JS, but "end, or before a final newline" in Python: it becomes `\\Z`.
- `\\d`, `\\w`, `\\b` are ASCII-only in JS and Unicode-aware in Python `str` patterns: we compile with `re.ASCII`.
- `\\s` is Unicode whitespace in JS (and would become ASCII-only under `re.ASCII`): it becomes JS's exact set.
- `.` excludes `\\n`, `\\r`, U+2028 and U+2029 in JS but only `\\n` in Python: it becomes that negated set.
- An escaped letter that JS does not know (`\\a`, `\\A`, `\\Z`, `\\e`, ...) means the letter itself in JS
  (Python would treat `\\A`/`\\Z` as anchors and reject the others), so it becomes the literal letter.
- `[^]` (any character) and `[]` (nothing) are JS-only; `(?<name>` is spelled `(?P<name>` in Python;
  `{,n}` is a literal in JS but a quantifier in Python.
- Inside a character class, `[`, `&`, `~`, `|` are escaped so Python never reads a nested set or set
  operation (it warns about those today and may change their meaning later).
The patterns in the snapshot use none of the JS-only constructs except `$`, `\\d`, `\\s` and `.`, but the
translation is total so a data update cannot silently change meaning.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# The order in which the README says to look an agent up; the first entry that matches wins.
AGENT_FILES = ("bots", "apps", "libraries", "browsers")
BREAKDOWN_FILES = ("devices", "referrers")
PATTERN_FILES = AGENT_FILES + BREAKDOWN_FILES

# ECMAScript WhiteSpace + LineTerminator, i.e. what JS `\s` matches (without the surrounding brackets).
_JS_WHITESPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_JS_DOT = "[^\\n\\r\\u2028\\u2029]"
# Escapes that mean the same thing in JS (non-unicode mode) and Python `re` (with re.ASCII).
_SHARED_ESCAPES = frozenset("dDwWbBtrnvfxu0123456789")
_SOURCE_LINE = re.compile(r"repo:\s*(?P<repo>\S+)\s+commit\s+(?P<commit>[0-9a-fA-F]{7,40})(?:\s+\((?P<date>[^)]*)\))?")


class UserAgentDataError(RuntimeError):
    """The OPAWG data folder is missing a file or holds an entry that cannot be used."""


@dataclass(frozen=True, slots=True)
class PatternEntry:
    """One named OPAWG entry: its compiled pattern and optional category."""

    name: str
    pattern: re.Pattern[str]
    category: str | None = None


@dataclass(frozen=True, slots=True)
class PatternTable:
    """One OPAWG pattern file, entries in file order."""

    kind: str
    entries: tuple[PatternEntry, ...]

    def first_match(self, value: str) -> PatternEntry | None:
        for entry in self.entries:
            if entry.pattern.search(value):
                return entry
        return None


@dataclass(frozen=True, slots=True)
class OpawgSource:
    """Where the data folder came from (SOURCE.txt)."""

    repository: str | None
    commit: str | None
    commit_date: str | None


def translate_js_pattern(pattern: str) -> str:
    """Rewrite a JavaScript RegExp source (no flags) so Python `re` (with re.ASCII) matches the same strings."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "s":
                out.append(_JS_WHITESPACE if in_class else f"[{_JS_WHITESPACE}]")
            elif nxt == "S" and not in_class:
                out.append(f"[^{_JS_WHITESPACE}]")
            elif nxt == "c" and i + 2 < n and pattern[i + 2].isascii() and pattern[i + 2].isalpha():
                out.append(re.escape(chr(ord(pattern[i + 2]) % 32)))  # JS control escape `\cJ`
                i += 3
                continue
            elif nxt in _SHARED_ESCAPES or nxt == "S" or not (nxt.isascii() and nxt.isalpha()):
                out.append(ch + nxt)
            else:
                out.append(re.escape(nxt))  # JS identity escape: `\A` is just "A"
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
                out.append(ch)
            else:
                out.append("\\" + ch if ch in "[&~|" else ch)
            i += 1
            continue
        if ch == "[":
            if pattern.startswith("[^]", i):
                out.append("[\\s\\S]")
                i += 3
            elif pattern.startswith("[]", i):
                out.append("(?!)")
                i += 2
            else:
                in_class = True
                out.append("[^" if pattern.startswith("[^", i) else "[")
                i += 2 if pattern.startswith("[^", i) else 1
            continue
        if ch == "$":
            out.append("\\Z")
        elif ch == ".":
            out.append(_JS_DOT)
        elif ch == "(" and pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        elif ch == "{" and pattern.startswith("{,", i):
            out.append("\\{")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def compile_js_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(translate_js_pattern(pattern), re.ASCII)


def load_pattern_table(directory: Path, kind: str) -> PatternTable:
    """Read `<directory>/<kind>.json` (an OPAWG src file) and compile its entries in file order."""
    path = directory / f"{kind}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        raw_entries = document["entries"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserAgentDataError(f"{path}: not a readable OPAWG pattern file ({exc})") from exc
    entries = tuple(parse_entry(raw, f"{path}: entry {position}") for position, raw in enumerate(raw_entries))
    return PatternTable(kind=kind, entries=entries)


def parse_entry(raw: object, where: str) -> PatternEntry:
    """One entry in the OPAWG shape (`name`, `pattern`, optional `category`), its pattern compiled."""
    name = raw.get("name") if isinstance(raw, dict) else None
    source = raw.get("pattern") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not isinstance(source, str):
        raise UserAgentDataError(f"{where} has no name or pattern")
    try:
        compiled = compile_js_pattern(source)
    except re.error as exc:
        raise UserAgentDataError(f"{where} ({name!r}) has a pattern Python cannot compile ({exc})") from exc
    return PatternEntry(name=name, pattern=compiled, category=raw.get("category") or None)


def load_pattern_tables(directory: Path) -> dict[str, PatternTable]:
    return {kind: load_pattern_table(directory, kind) for kind in PATTERN_FILES}


def read_source(directory: Path) -> OpawgSource:
    """Parse SOURCE.txt (`repo: <url> commit <sha> (<date>)`); missing or unparsable gives empty fields."""
    try:
        text = (directory / "SOURCE.txt").read_text(encoding="utf-8")
    except OSError:
        logger.warning("no SOURCE.txt in %s: the OPAWG commit is unknown", directory)
        return OpawgSource(None, None, None)
    found = _SOURCE_LINE.search(text)
    if found is None:
        logger.warning("SOURCE.txt in %s does not name a commit", directory)
        return OpawgSource(None, None, None)
    return OpawgSource(found["repo"], found["commit"], found["date"])
