"""User-Agent classification for counting: OPAWG user-agents-v2 app/device/referrer, a coarse OS, IAB bot rules.

    from services.measurement.useragents import default_classifier
    result = default_classifier().classify("Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0")
    frame = default_classifier().classify_many(hits["user_agent"], hits["referer"])

The data (OPAWG src JSON, MIT) lives in services/measurement/data/opawg with its LICENSE and SOURCE.txt; the
product's own entries for upstream changes made after that copy live in services/measurement/data/ua_additions.json.
"""
from services.measurement.useragents.additions import UA_ADDITIONS_PATH, UaAddition, UaAdditions, load_additions
from services.measurement.useragents.bot_rules import (
    APPLE_WATCH,
    BOT_RULES,
    EMPTY_USER_AGENT,
    OPAWG_BOT,
    OPAWG_BOT_LIBRARY,
    UNKNOWN_BOT_NAME,
    BotRule,
)
from services.measurement.useragents.classifier import (
    CLASSIFICATION_COLUMNS,
    OPAWG_DATA_DIR,
    Classification,
    UserAgentClassifier,
    classify,
    classify_many,
    default_classifier,
    is_bot,
    versions,
)
from services.measurement.useragents.operating_systems import OS_FAMILIES, operating_system
from services.measurement.useragents.patterns import UserAgentDataError, translate_js_pattern

__all__ = [
    "APPLE_WATCH",
    "BOT_RULES",
    "CLASSIFICATION_COLUMNS",
    "EMPTY_USER_AGENT",
    "OPAWG_BOT",
    "OPAWG_BOT_LIBRARY",
    "OPAWG_DATA_DIR",
    "OS_FAMILIES",
    "UA_ADDITIONS_PATH",
    "UNKNOWN_BOT_NAME",
    "BotRule",
    "Classification",
    "UaAddition",
    "UaAdditions",
    "UserAgentClassifier",
    "UserAgentDataError",
    "classify",
    "classify_many",
    "default_classifier",
    "is_bot",
    "load_additions",
    "operating_system",
    "translate_js_pattern",
    "versions",
]
