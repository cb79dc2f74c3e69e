"""The episodes grid's own view state in the URL: its search text, sort and column filters (AG Grid's filter model),
next to the dashboard's ViewState; lenient like ViewState, so any URL opens a grid."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MAX_SEARCH = 200
MAX_FILTER_JSON = 4000  # a filter model longer than this in a URL is not a person's filter
SORT_DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class GridView:
    search: str = ""
    sort: tuple[tuple[str, str], ...] = field(default=())  # (column, asc|desc), the first sorts first
    filters: Mapping = field(default_factory=dict)  # AG Grid's filterModel: column -> its filter's model

    @classmethod
    def from_query(cls, query: Mapping[str, str] | None, columns: Iterable[str]) -> GridView:
        """From the URL's `q`, `sort` ("col:desc,col2:asc") and `filter` (the filter model as JSON); unknown
        columns and malformed values are dropped."""
        query, known = query or {}, set(columns)
        sort = []
        for part in str(query.get("sort") or "").split(","):
            column, _, direction = part.partition(":")
            if column in known and direction in SORT_DIRECTIONS and column not in dict(sort):
                sort.append((column, direction))
        return cls(search=str(query.get("q") or "").strip()[:MAX_SEARCH], sort=tuple(sort),
                   filters=_filters(query.get("filter"), known))

    @classmethod
    def from_grid(cls, search, column_state, filter_model, columns: Iterable[str]) -> GridView:
        """From the grid's props as Dash sends them: the search box, `columnState` and `filterModel`."""
        ordered = sorted((c for c in column_state or () if isinstance(c, dict) and c.get("sort") in SORT_DIRECTIONS),
                         key=lambda c: c.get("sortIndex") or 0)
        return cls.from_query({"q": search or "", "sort": ",".join(f"{c.get('colId')}:{c['sort']}" for c in ordered),
                               "filter": json.dumps(filter_model) if filter_model else ""}, columns)

    def query_pairs(self, default_sort: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
        """The URL pairs for this grid; nothing for an empty search, the default sort, or no filter."""
        pairs = []
        if self.search:
            pairs.append(("q", self.search))
        if self.sort and self.sort != default_sort:
            pairs.append(("sort", ",".join(f"{c}:{d}" for c, d in self.sort)))
        if self.filters:
            pairs.append(("filter", json.dumps(self.filters, separators=(",", ":"), sort_keys=True)))
        return pairs


def _filters(value, known: set[str]) -> dict:
    if not value or len(str(value)) > MAX_FILTER_JSON:
        return {}
    try:
        model = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(model, dict):
        return {}
    return {column: spec for column, spec in model.items() if column in known and isinstance(spec, dict)}
