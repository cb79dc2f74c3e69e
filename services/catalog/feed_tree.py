"""A strict-XML reading of a feed for what feedparser does not keep: podcast: namespace elements,
nested iTunes categories, itunes:new-feed-url and the old <redirect><newLocation>."""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
# The namespace URI the Podcasting 2.0 docs used before podcastindex.org/namespace/1.0.
_PODCAST_NAMESPACES = {
    PODCAST_NS,
    "http://podcastindex.org/namespace/1.0",
    "https://github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
}
# Prefixes that feeds use without declaring them (strict XML says "unbound prefix"). To read such a
# feed anyway they are bound to their conventional namespaces; any other prefix gets a private URN.
_CONVENTIONAL_PREFIXES = {
    "itunes": ITUNES_NS,
    "podcast": PODCAST_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "googleplay": "http://www.google.com/schemas/play-podcasts/1.0",
    "psc": "http://podlove.org/simple-chapters",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
# Namespaces whose <item>/<entry> elements feedparser turns into entries.
_ENTRY_NAMESPACES = {
    "",
    "http://purl.org/rss/1.0/",
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://backend.userland.com/rss2",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://www.w3.org/2005/Atom",
    "http://purl.org/atom/ns#",
}
_PROLOG_OR_ROOT = re.compile(r"<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^>]*>|<([^\s/>!?]+)", re.DOTALL | re.IGNORECASE)


@dataclass
class ItemExtras:
    """podcast: namespace values of one <item>, in document order with feedparser's entries."""

    chapters_url: str | None = None
    transcripts: list[dict] = field(default_factory=list)
    season: str | None = None
    episode: str | None = None


@dataclass
class FeedTree:
    root: str
    has_channel: bool
    categories: list[str]
    itunes_author: str | None
    new_feed_url: str | None
    redirect_url: str | None
    items: list[ItemExtras]
    declared_prefixes: list[str]  # undeclared prefixes this reading had to bind


def _split(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):  # comments and processing instructions
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _is_itunes(namespace: str) -> bool:
    # feedparser also accepts the odd capitalisations and hosts seen in old feeds.
    return namespace.lower().endswith("/podcast-1.0.dtd")


def _is_podcast(namespace: str) -> bool:
    return namespace.lower().rstrip("/") in {ns.lower() for ns in _PODCAST_NAMESPACES}


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    value = "".join(element.itertext()).strip()
    return value or None


def _decoded(content: bytes, encoding: str | None) -> str:
    try:
        text = content.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    text = text.lstrip("\ufeff\x00")
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text)


def _declare_prefixes(text: str) -> tuple[str, list[str]]:
    """The document with every used-but-undeclared prefix declared on its root element."""
    used = set(re.findall(r"</?([A-Za-z_][\w.\-]*):[A-Za-z_]", text))
    used |= set(re.findall(r"\s([A-Za-z_][\w.\-]*):[\w.\-]+\s*=\s*[\"']", text))
    declared = set(re.findall(r"xmlns:([\w.\-]+)\s*=", text))
    missing = sorted(used - declared - {"xml", "xmlns"})
    root = next((m for m in _PROLOG_OR_ROOT.finditer(text) if m.group(1)), None)
    if not missing or root is None:
        return text, []
    declarations = "".join(
        f' xmlns:{p}="{_CONVENTIONAL_PREFIXES.get(p, "urn:x-undeclared:" + p)}"' for p in missing
    )
    return text[: root.end()] + declarations + text[root.end():], missing


def _parse(content: bytes, encoding: str | None) -> tuple[ET.Element | None, list[str]]:
    try:
        return ET.fromstring(content), []
    except (ET.ParseError, ValueError, LookupError):
        pass  # wrong or multi-byte declared encoding, or not well-formed: try the decoded text
    text = _decoded(content, encoding)
    try:
        return ET.fromstring(text), []
    except ET.ParseError as error:
        if "unbound prefix" not in str(error):
            return None, []
    repaired, prefixes = _declare_prefixes(text)
    try:
        return ET.fromstring(repaired), prefixes
    except ET.ParseError:
        return None, []


def _item_extras(item: ET.Element) -> ItemExtras:
    extras = ItemExtras()
    for child in item:
        namespace, local = _split(child.tag)
        if not _is_podcast(namespace):
            continue
        if local == "chapters" and not extras.chapters_url and child.get("url", "").strip():
            extras.chapters_url = child.get("url").strip()
        elif local == "transcript" and child.get("url", "").strip():
            extras.transcripts.append({
                "url": child.get("url").strip(),
                "type": (child.get("type") or "").strip() or None,
                "language": (child.get("language") or "").strip() or None,
            })
        elif local == "season" and extras.season is None:
            extras.season = _text(child)
        elif local == "episode" and extras.episode is None:
            extras.episode = _text(child)
    return extras


def _categories(channel: ET.Element) -> list[str]:
    """Apple's two levels as 'Parent' or 'Parent>Child'; deeper levels are not part of the spec."""
    found: list[str] = []
    for top in channel:
        namespace, local = _split(top.tag)
        if not (_is_itunes(namespace) and local == "category"):
            continue
        name = (top.get("text") or "").strip()
        subs = [
            (sub.get("text") or "").strip()
            for sub in top
            if _is_itunes(_split(sub.tag)[0]) and _split(sub.tag)[1] == "category"
        ]
        subs = [s for s in subs if s]
        if name:
            values = [f"{name}>{s}" for s in subs] or [name]
        else:  # a nameless parent: its subcategories are all there is to keep
            values = subs
        for value in values:
            if value not in found:
                found.append(value)
    return found


def _child(parent: ET.Element, local: str, itunes: bool = False) -> ET.Element | None:
    for child in parent:
        namespace, name = _split(child.tag)
        if name == local and (_is_itunes(namespace) if itunes else namespace in _ENTRY_NAMESPACES):
            return child
    return None


def read_feed_tree(content: bytes, encoding: str | None = None) -> FeedTree | None:
    """The tree view of a feed, or None when it cannot be read as XML even after repairs."""
    root, declared = _parse(content, encoding)
    if root is None:
        return None
    root_name = _split(root.tag)[1]
    channel = root if root_name == "feed" else _child(root, "channel")
    redirect_url = None
    for element in root.iter():
        if _split(element.tag)[1] == "redirect":
            location = next((c for c in element if _split(c.tag)[1] == "newLocation"), None)
            redirect_url = redirect_url or _text(location)
    items = [
        _item_extras(element)
        for element in root.iter()
        if _split(element.tag)[1] in ("item", "entry") and _split(element.tag)[0] in _ENTRY_NAMESPACES
    ]
    return FeedTree(
        root=root_name,
        has_channel=channel is not None,
        categories=_categories(channel) if channel is not None else [],
        itunes_author=_text(_child(channel, "author", itunes=True)) if channel is not None else None,
        new_feed_url=_text(_child(channel, "new-feed-url", itunes=True)) if channel is not None else None,
        redirect_url=redirect_url,
        items=items,
        declared_prefixes=declared,
    )
