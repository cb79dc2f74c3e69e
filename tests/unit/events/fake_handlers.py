"""Stand-in handlers for the dispatcher tests: they count their calls and effects, or fail on demand."""
from __future__ import annotations

from collections import Counter

calls: Counter = Counter()
failures: dict[str, int] = {}  # handler name -> how many more times it fails


def fan_out(_db, event) -> None:
    calls[("fan_out", event.id)] += 1


def make(name: str):
    def handler(_db, event) -> None:
        calls[(name, event.id)] += 1
        if failures.get(name, 0) > 0:
            failures[name] -= 1
            raise RuntimeError(f"{name} is down")
    return handler


def reset() -> None:
    calls.clear()
    failures.clear()
