"""A coarse operating-system family for a User-Agent (OPAWG v2 dropped OS, the dashboards still show it).

One ordered list, first match wins. The order carries the knowledge: Apple's phone, tablet, watch and TV
agents all say "like Mac OS X", Android agents say "Linux", ChromeOS agents say "X11", so the specific
families come before macOS and Linux.
"""
from __future__ import annotations

import re

OS_FAMILIES = ("iOS", "iPadOS", "watchOS", "macOS", "Android", "Windows", "Linux", "ChromeOS", "tvOS", "other")
OTHER_OS = "other"

_OS_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern, re.ASCII))
    for family, pattern in (
        ("watchOS", r"\bwatchOS\b|Watch OS|\(Apple Watch;|model/Watch\d|^Watch/\d+ CFNetwork/"),
        # HomePod runs audioOS, which is none of the families (and says "CPU OS ... like Mac OS X").
        (OTHER_OS, r"HomePod|^AirPodcasts/"),
        ("tvOS", r"\btvOS\b|Apple ?TV|apple;apple_tv"),
        ("iPadOS", r"iPad|ipad|IPAD"),
        # Mac apps built on CFNetwork append the CPU architecture; iPhone ones do not (see the iOS rule).
        ("macOS", r"CFNetwork/\S+ Darwin/\S+ \((x86_64|arm64|i386)\)|\(Macintosh;|Mac OS X 1\d[_.]\d|macOS"),
        ("iOS", r"iPhone|iphone|iPod|\biOS\b|\bios\b|CPU OS \d|CFNetwork/\S+ Darwin/"),
        # KaiOS feature phones put "Android" in their browser agent.
        (OTHER_OS, r"KAIOS|KaiOS"),
        ("ChromeOS", r"\bCrOS\b|Chromebook"),
        ("Windows", r"[Ww]indows|Win64|Win32|WinNT|WMPlayer|NSPlayer|Winamp"),
        ("Android", r"Android|android|Dalvik/|ExoPlayer|AndroidXMedia3|^GSA/.*\.arm(64)?$"),
        ("macOS", r"Macintosh|[Mm]ac ?OS|Mac_PowerPC|\bOS ?X\b|[Dd]arwin"),
        ("Linux", r"Linux|linux|Ubuntu|Fedora|Debian"),
    )
)


def operating_system(user_agent: str) -> str:
    """The OS family of `user_agent` (one of OS_FAMILIES); "other" when the agent does not say."""
    for family, pattern in _OS_RULES:
        if pattern.search(user_agent):
            return family
    return OTHER_OS


def os_rules() -> list[dict[str, str]]:
    """The rules as data, for the methodology page."""
    return [{"os": family, "pattern": pattern.pattern} for family, pattern in _OS_RULES]
