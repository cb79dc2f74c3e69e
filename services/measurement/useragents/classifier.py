"""Classify a request's User-Agent (and Referer) into app / device / OS / referrer / bot with OPAWG user-agents-v2.

Matching follows the OPAWG README exactly: newlines removed; bots, apps, libraries, browsers in that order,
first entry whose pattern matches; devices only when the agent is not an OPAWG bot; referrers only for
browsers. Each table is OPAWG's followed by the product's own additions of that kind (`additions`). The IAB
bot rules of `bot_rules` then decide `is_bot`. `type` always says which OPAWG file matched (so a bot library
is type "library" with is_bot True); `is_bot`/`bot_reason` carry the IAB decision.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from services.measurement.useragents import bot_rules
from services.measurement.useragents.additions import (
    NO_ADDITIONS,
    UA_ADDITIONS_PATH,
    UaAdditions,
    load_additions,
    with_additions,
)
from services.measurement.useragents.operating_systems import OS_FAMILIES, operating_system, os_rules
from services.measurement.useragents.patterns import (
    AGENT_FILES,
    OpawgSource,
    PatternTable,
    load_pattern_tables,
    read_source,
)

logger = logging.getLogger(__name__)

AgentType = Literal["bot", "app", "library", "browser"]
OPAWG_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "opawg"
_TYPE_OF_FILE: dict[str, AgentType] = {"bots": "bot", "apps": "app", "libraries": "library", "browsers": "browser"}
# Distinct agents and referers seen by one worker stay in the thousands; the bound only guards memory.
_CACHE_SIZE = 65_536


@dataclass(frozen=True, slots=True)
class Classification:
    """What one (User-Agent, Referer) pair is. Names and categories are OPAWG's own words."""

    type: AgentType | None
    name: str | None
    category: str | None
    device: str | None
    device_category: str | None
    os: str | None
    referrer_name: str | None
    referrer_category: str | None
    is_bot: bool
    bot_reason: str | None


CLASSIFICATION_COLUMNS = tuple(field.name for field in dataclasses.fields(Classification))


def _clean(value: object) -> str:
    """A header value as the matcher sees it: missing -> "", newlines removed (as the OPAWG README says)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\r", "").replace("\n", "") if ("\n" in text or "\r" in text) else text


class UserAgentClassifier:
    """The OPAWG tables plus the product's additions, compiled once; classify is pure and cached per distinct
    agent and referer."""

    def __init__(self, tables: Mapping[str, PatternTable], source: OpawgSource | None = None,
                 additions: UaAdditions = NO_ADDITIONS):
        missing = [kind for kind in (*AGENT_FILES, "devices", "referrers") if kind not in tables]
        if missing:
            raise ValueError(f"missing OPAWG tables: {', '.join(missing)}")
        self._opawg_counts = {kind: len(table.entries) for kind, table in tables.items()}
        self._tables = with_additions(tables, additions.entries)
        self._additions = additions
        self._source = source or OpawgSource(None, None, None)
        self._classify_agent = lru_cache(maxsize=_CACHE_SIZE)(self._classify_agent_uncached)
        self._referrer = lru_cache(maxsize=_CACHE_SIZE)(self._referrer_uncached)

    @classmethod
    def from_directory(cls, directory: Path = OPAWG_DATA_DIR,
                       additions_path: Path | None = UA_ADDITIONS_PATH) -> UserAgentClassifier:
        """The OPAWG copy in `directory` plus the additions file (none when `additions_path` is None)."""
        tables = load_pattern_tables(directory)
        source = read_source(directory)
        additions = load_additions(additions_path) if additions_path is not None else NO_ADDITIONS
        if additions.opawg_commit and not (source.commit or "").startswith(additions.opawg_commit):
            # The additions track upstream changes after a given snapshot; after an update some may be redundant.
            logger.warning("UA additions were written for OPAWG %s but the copy is %s: review %s",
                           additions.opawg_commit, source.commit, additions_path)
        logger.info("loaded OPAWG user-agents-v2 %s from %s: %s, plus additions %s",
                    source.commit or "(unknown commit)", directory,
                    {kind: len(table.entries) for kind, table in tables.items()}, additions.counts())
        return cls(tables, source, additions)

    # --- one pair ----------------------------------------------------------------------------------------

    def classify(self, user_agent: str | None, referer: str | None = None) -> Classification:
        result = self._classify_agent(_clean(user_agent))
        if result.type != "browser":
            return result
        referrer = self._referrer(_clean(referer))
        if referrer is None:
            return result
        return dataclasses.replace(result, referrer_name=referrer[0], referrer_category=referrer[1])

    def is_bot(self, user_agent: str | None) -> bool:
        return self._classify_agent(_clean(user_agent)).is_bot

    def _classify_agent_uncached(self, user_agent: str) -> Classification:
        agent_type: AgentType | None = None
        name = category = device = device_category = os_family = None
        if not bot_rules.is_missing_agent(user_agent):
            for kind in AGENT_FILES:
                entry = self._tables[kind].first_match(user_agent)
                if entry is not None:
                    agent_type, name, category = _TYPE_OF_FILE[kind], entry.name, entry.category
                    break
            if agent_type != "bot":
                device_entry = self._tables["devices"].first_match(user_agent)
                if device_entry is not None:
                    device, device_category = device_entry.name, device_entry.category
                os_family = operating_system(user_agent)
        reason = bot_rules.bot_reason(agent_type, category, user_agent)
        return Classification(type=agent_type, name=name, category=category, device=device,
                              device_category=device_category, os=os_family, referrer_name=None,
                              referrer_category=None, is_bot=reason is not None, bot_reason=reason)

    def _referrer_uncached(self, referer: str) -> tuple[str, str | None] | None:
        if not referer or referer == "-":
            return None
        entry = self._tables["referrers"].first_match(referer)
        return None if entry is None else (entry.name, entry.category)

    def classify_referrer(self, referer: str | None) -> tuple[str, str | None] | None:
        """(name, category) of the OPAWG referrers entry matching `referer`, whatever the agent."""
        return self._referrer(_clean(referer))

    def classify_device(self, user_agent: str | None) -> tuple[str, str | None] | None:
        """(name, category) of the OPAWG devices entry matching `user_agent`, whatever the agent type."""
        entry = self._tables["devices"].first_match(_clean(user_agent))
        return None if entry is None else (entry.name, entry.category)

    # --- many rows ---------------------------------------------------------------------------------------

    def classify_many(self, user_agents: pd.Series, referers: pd.Series | None = None) -> pd.DataFrame:
        """One row per input row (same index), columns CLASSIFICATION_COLUMNS.

        Each distinct agent is classified once, then each distinct (browser agent, referer) pair once; the
        results are mapped back by position, so the cost follows the number of distinct values, not rows.
        `referers`, when given, must have the same length as `user_agents` and is read by position.
        """
        if referers is not None and len(referers) != len(user_agents):
            raise ValueError("user_agents and referers must have the same length")
        agent_codes, agents = _distinct_clean_values(user_agents)
        per_agent = [self._classify_agent(agent) for agent in agents]
        browsers = np.fromiter((c.type == "browser" for c in per_agent), dtype=bool, count=len(per_agent))
        if referers is None or not browsers.any():
            return _frame(per_agent, agent_codes, user_agents.index)

        referer_codes, referer_values = _distinct_clean_values(referers)
        # Only browsers look at the Referer: every other row's pair collapses onto (agent, no referer).
        referer_slot = np.where(browsers[agent_codes], referer_codes + 1, 0)
        width = len(referer_values) + 1
        pair_codes, pair_keys = pd.factorize(agent_codes.astype(np.int64) * width + referer_slot, sort=False)
        per_pair = []
        for key in pair_keys.tolist():
            agent_code, slot = divmod(key, width)
            result = per_agent[agent_code]
            referrer = self._referrer(referer_values[slot - 1]) if slot else None
            if referrer is not None:
                result = dataclasses.replace(result, referrer_name=referrer[0], referrer_category=referrer[1])
            per_pair.append(result)
        return _frame(per_pair, pair_codes, user_agents.index)

    # --- methodology -------------------------------------------------------------------------------------

    def versions(self) -> dict[str, Any]:
        """What the classifier applies, as plain data for the methodology page."""
        libraries = self._tables["libraries"].entries  # as applied: OPAWG's and the additions'
        return {
            "opawg_repository": self._source.repository,
            "opawg_commit": self._source.commit,
            "opawg_commit_short": self._source.commit[:7] if self._source.commit else None,
            "opawg_commit_date": self._source.commit_date,
            "match_order": list(AGENT_FILES),
            "entry_counts": dict(self._opawg_counts),
            "additions": [{"kind": a.kind, "name": a.entry.name, "reason": a.reason} for a in self._additions.entries],
            "addition_counts": self._additions.counts(),
            "additions_opawg_commit": self._additions.opawg_commit,
            "bot_library_count": sum(1 for e in libraries if e.category == bot_rules.OPAWG_BOT_CATEGORY),
            "bot_rules": [{"reason": rule.reason, "description": rule.description} for rule in bot_rules.BOT_RULES],
            "apple_watch_pattern": bot_rules.APPLE_WATCH_AGENT.pattern,
            "unknown_bot_pattern": bot_rules.UNKNOWN_BOT_AGENT.pattern,
            "os_families": list(OS_FAMILIES),
            "os_rules": os_rules(),
        }


def _distinct_clean_values(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(codes, distinct cleaned values) with values[i] == distinct[codes[i]]; cleaning runs once per distinct."""
    raw_codes, raw_values = pd.factorize(values, sort=False)  # missing values get code -1
    cleaned = np.array([_clean(v) for v in raw_values] + [""], dtype=object)
    clean_codes, clean_values = pd.factorize(cleaned, sort=False)
    return clean_codes[raw_codes], list(clean_values)


def _frame(results: list[Classification], codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
    rows = [tuple(getattr(result, column) for column in CLASSIFICATION_COLUMNS) for result in results]
    distinct = pd.DataFrame(rows, columns=list(CLASSIFICATION_COLUMNS), dtype=object)
    distinct["is_bot"] = distinct["is_bot"].astype(bool)
    frame = distinct.take(codes)
    frame.index = index
    return frame


@lru_cache(maxsize=1)
def default_classifier() -> UserAgentClassifier:
    """The classifier over the OPAWG copy in services/measurement/data/opawg plus data/ua_additions.json, loaded
    on first use."""
    return UserAgentClassifier.from_directory(OPAWG_DATA_DIR)


def classify(user_agent: str | None, referer: str | None = None) -> Classification:
    return default_classifier().classify(user_agent, referer)


def classify_many(user_agents: pd.Series, referers: pd.Series | None = None) -> pd.DataFrame:
    return default_classifier().classify_many(user_agents, referers)


def is_bot(user_agent: str | None) -> bool:
    return default_classifier().is_bot(user_agent)


def versions() -> dict[str, Any]:
    return default_classifier().versions()
