"""Making embeds and reading what their page drew, for the embeds tests."""
from __future__ import annotations

import json
import re

from services.sharing import store

FIGURE = re.compile(r'<script id="figure" type="application/json">(.*?)</script>', re.S)


def make(world, ctx, chart: str, filters: dict | None = None, **fields) -> tuple[store.EmbedInfo, str]:
    now = fields.pop("now", None)
    info = store.create_embed(world["db"], ctx, {"chart": chart, "filters": filters or {}, **fields}, now=now)
    return info, store.embed_token(info.id, world["settings"].embed_keys)


def figure(response) -> dict:
    """The figure an embed page draws (its JSON block)."""
    match = FIGURE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return json.loads(match.group(1))


def bars(response) -> dict:
    """label -> value of a horizontal bar figure."""
    trace = figure(response)["data"][0]
    return dict(zip(_values(trace["y"]), _values(trace["x"])))


def _values(value):
    if isinstance(value, dict) and "bdata" in value:  # plotly's typed-array encoding
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)
