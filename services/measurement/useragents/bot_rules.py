"""The IAB v2.3 bot rules applied on top of the OPAWG match, in order, each with a reason code and description.

The codes are stored with filtered requests and listed on the methodology page, so they are a stored
contract: add new ones, never rename.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

EMPTY_USER_AGENT = "empty_user_agent"
OPAWG_BOT = "opawg_bot"
OPAWG_BOT_LIBRARY = "opawg_bot_library"
APPLE_WATCH = "apple_watch"
UNKNOWN_BOT_NAME = "unknown_bot_name"

# The OPAWG libraries file flags server-side HTTP clients with `"category": "bot"` (e.g. okhttp,
# Go-http-client, python urllib); apps and bots carry no category in this snapshot.
OPAWG_BOT_CATEGORY = "bot"

# Agents that mean "no User-Agent": the header missing, blank, or written as "-" by nginx/Apache
# combined logs when the request had none.
MISSING_AGENT_VALUES = frozenset({"", "-"})

# IAB v2.3 / Tech Lab "Apple watchOS podcast filtering guidance" (2020): the Apple Watch syncs episodes
# the paired iPhone already downloaded, so watchOS downloads are filtered. Apple's own watchOS media stack
# identifies itself in two ways, and this rule matches exactly those:
#   - a `watchOS` token: "atc/1.0 watchOS/7.1 model/Watch5,4 ..." and "(null)/(null) watchOS/5.0.1 ..."
#     (OPAWG already lists both as the bot "Apple Podcasts (Watch)"; the rule keeps them filtered even if a
#     future OPAWG release moves or drops that entry), also when the version slash is missing;
#   - AVFoundation streaming on the watch: "AppleCoreMedia/1.0.0.16R5303d (Apple Watch; U; CPU OS 5_0 ...)",
#     which OPAWG can only call the library "AppleCoreMedia".
# Deliberately not matched: third-party watch apps that name themselves (Overcast's "Watch/1140 CFNetwork/..."
# and "Overcast (+http://overcast.fm/; Apple Watch podcast app)"). Their downloads are user-initiated and the
# IAB finding was about the automatic Apple Podcasts sync, so they count like any other app.
APPLE_WATCH_AGENT = re.compile(r"\bwatchOS\b|^AppleCoreMedia/\S* \(Apple Watch;")

# IAB: an agent no list recognises but which calls itself a bot, crawler or spider is a bot.
UNKNOWN_BOT_AGENT = re.compile(r"bot|crawler|spider", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BotRule:
    reason: str
    description: str


# In the order the classifier applies them; the first that fires is the request's `bot_reason`.
BOT_RULES: tuple[BotRule, ...] = (
    BotRule(EMPTY_USER_AGENT, "The request has no User-Agent (missing, blank or '-')."),
    BotRule(OPAWG_BOT, "The User-Agent matches an entry of the OPAWG user-agents-v2 bots list (or of the "
                       "product's additions to it)."),
    BotRule(OPAWG_BOT_LIBRARY, "The User-Agent matches an OPAWG user-agents-v2 library (or product addition) flagged "
                               "as a bot (a server-side HTTP client such as Go-http-client, okhttp or python urllib)."),
    BotRule(APPLE_WATCH, "Apple Watch (watchOS) automatic downloads, per the IAB Tech Lab Apple Watch guidance: "
                         f"User-Agent matching /{APPLE_WATCH_AGENT.pattern}/."),
    BotRule(UNKNOWN_BOT_NAME, "The User-Agent matches no OPAWG entry and contains 'bot', 'crawler' or 'spider' "
                              "(any case)."),
)


def is_missing_agent(user_agent: str) -> bool:
    return user_agent.strip() in MISSING_AGENT_VALUES


def bot_reason(agent_type: str | None, category: str | None, user_agent: str) -> str | None:
    """Which rule makes this (already OPAWG-matched) agent a bot, or None when it counts as a listener."""
    if is_missing_agent(user_agent):
        return EMPTY_USER_AGENT
    if agent_type == "bot":
        return OPAWG_BOT
    if agent_type == "library" and category == OPAWG_BOT_CATEGORY:
        return OPAWG_BOT_LIBRARY
    if APPLE_WATCH_AGENT.search(user_agent):
        return APPLE_WATCH
    if agent_type is None and UNKNOWN_BOT_AGENT.search(user_agent):
        return UNKNOWN_BOT_NAME
    return None
