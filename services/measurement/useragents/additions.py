"""The product's own user-agent entries (data/ua_additions.json), appended to the OPAWG tables of the same kind.

They track changes OPAWG made upstream after the snapshot in data/opawg, so the classifier keeps up between
snapshot updates without editing the OPAWG copy. Each entry has the OPAWG shape plus a one-line `reason`;
appending keeps the OPAWG order intact (an OPAWG entry wins when both match) and keeps bots before apps.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.measurement.useragents.patterns import (
    PATTERN_FILES,
    PatternEntry,
    PatternTable,
    UserAgentDataError,
    parse_entry,
)

UA_ADDITIONS_PATH = Path(__file__).resolve().parent.parent / "data" / "ua_additions.json"


@dataclass(frozen=True, slots=True)
class UaAddition:
    """One product-owned entry: which OPAWG table it joins, the entry, why it exists, the agents it was written from."""

    kind: str
    entry: PatternEntry
    reason: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UaAdditions:
    """The additions file: the OPAWG commit it was written against and its entries in file order."""

    opawg_commit: str | None
    entries: tuple[UaAddition, ...]

    def counts(self) -> dict[str, int]:
        """Entries per OPAWG table, in match order, only the tables that have some."""
        return {kind: n for kind in PATTERN_FILES if (n := sum(1 for a in self.entries if a.kind == kind))}


NO_ADDITIONS = UaAdditions(opawg_commit=None, entries=())


def load_additions(path: Path = UA_ADDITIONS_PATH) -> UaAdditions:
    """Read and compile the additions file; a missing reason, unknown table or bad pattern is a data error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserAgentDataError(f"{path}: not a readable additions file ({exc})") from exc
    if not isinstance(document, dict):
        raise UserAgentDataError(f"{path}: not a readable additions file (a JSON object is expected)")
    unknown = set(document) - {*PATTERN_FILES, "comments", "opawg_commit"}
    if unknown:
        raise UserAgentDataError(f"{path}: unknown keys {sorted(unknown)} (tables are {', '.join(PATTERN_FILES)})")
    entries = []
    for kind in PATTERN_FILES:
        for position, raw in enumerate(document.get(kind, [])):
            where = f"{path}: {kind} entry {position}"
            entry = parse_entry(raw, where)
            reason = raw.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                raise UserAgentDataError(f"{where} ({entry.name!r}) has no reason")
            entries.append(UaAddition(kind=kind, entry=entry, reason=reason, examples=tuple(raw.get("examples", ()))))
    return UaAdditions(opawg_commit=document.get("opawg_commit"), entries=tuple(entries))


def with_additions(tables: Mapping[str, PatternTable], additions: Sequence[UaAddition]) -> dict[str, PatternTable]:
    """The tables with each addition appended to the table of its kind (OPAWG order first, then file order)."""
    merged = dict(tables)
    for kind in PATTERN_FILES:
        extra = tuple(a.entry for a in additions if a.kind == kind)
        if extra and kind in merged:
            merged[kind] = PatternTable(kind=kind, entries=merged[kind].entries + extra)
    return merged
