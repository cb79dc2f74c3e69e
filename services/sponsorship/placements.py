"""Placements (line items) of a campaign: a show or one episode, position, read type, insertion (dynamic or baked),
price and flight; and the
brand-safety flag when a competing sponsor of the same industry is on the same episode in the same days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import aliased

from services import audit
from services.events import outbox
from services.sponsorship.campaign_fields import is_blank, parse_date, parse_int, parse_money
from services.sponsorship.campaigns import visible_campaign
from services.db import Database
from services.errors import Conflict, NotFound, ValidationError
from services.models import INSERTIONS, POSITIONS, READ_TYPES, Campaign, Episode, Placement, Podcast, Sponsor
from services.tenancy import TenantContext, require_role, require_staff

FIELDS = ("podcast_id", "episode_id", "position", "read_type", "price", "start_date", "end_date", "insertion")
CLOSED = ("completed", "cancelled")


@dataclass(frozen=True)
class PlacementRow:
    id: int
    campaign_id: int
    podcast_id: int
    podcast: str
    episode_id: int | None
    episode: str | None
    position: str
    read_type: str
    price: float | None
    start_date: date
    end_date: date
    conflicts: tuple[str, ...] = ()  # competing sponsors of the same industry on the same episode and days
    insertion: str = "dynamic"  # dynamic: served to the campaign's target countries only; baked: in every download

    def as_dict(self) -> dict:
        return {"id": self.id, "campaign_id": self.campaign_id, "podcast_id": self.podcast_id, "podcast": self.podcast,
                "episode_id": self.episode_id, "episode": self.episode, "position": self.position,
                "read_type": self.read_type, "price": self.price, "start_date": self.start_date.isoformat(),
                "end_date": self.end_date.isoformat(), "insertion": self.insertion,
                "conflicts": list(self.conflicts)}


# The rule as the methodology page states it (services.measurement.methodology); served_countries applies it.
DELIVERY_RULES = (
    ("Impressions", "an impression is one counted download, inside a placement's flight (UTC days), of an episode "
                    "the placement carries: the one episode it names, or any episode of its show. Two placements of "
                    "one campaign on the same download are two impressions."),
    ("Dynamic insertion", "an ad inserted per download by the ad server is served only where the campaign targets: "
                          "only downloads from its target countries count (a campaign without target countries "
                          "counts every country). A download whose country is unknown is not counted."),
    ("Baked in", "an ad baked into the episode's audio is heard by every download of it, so every download counts, "
                 "whatever the campaign's target countries."),
    ("Everything follows", "delivery, reach and frequency, pacing and its forecast (the show's forecast times the "
                           "target countries' share of its last 28 days), spend and attribution exposures all count "
                           "by this rule; a change of target countries is measured again at once."),
)


def served_countries(insertion: str | None, target_countries) -> tuple[str, ...] | None:
    """The countries whose downloads a placement's ad reaches: the campaign's targets for a dynamically inserted ad
    (None, everywhere, when it targets none), None for an ad baked into the audio (every download hears it)."""
    if insertion == "baked" or not target_countries:
        return None
    return tuple(sorted({str(c).strip().upper() for c in target_countries}))


def clean_placement(data: dict, flight: tuple[date, date]) -> dict:
    """Parse and check a placement; dates default to the campaign's flight and must lie inside it."""
    errors = {name: "unknown field" for name in sorted(set(data) - set(FIELDS))}
    out: dict = {}

    def parse(name, parser, message, default=None):
        if is_blank(data.get(name)):
            out[name] = default
            return
        try:
            out[name] = parser(data[name])
        except (ValueError, TypeError):
            errors[name] = message

    parse("podcast_id", parse_int, "choose a podcast")
    parse("episode_id", parse_int, "choose an episode or leave empty for every episode in the flight")
    parse("position", lambda v: str(v).strip().lower(), "pre, mid or post", "pre")
    parse("read_type", lambda v: str(v).strip().lower().replace("-", "_"), "host_read or produced", "host_read")
    parse("insertion", lambda v: str(v).strip().lower(), "dynamic or baked", "dynamic")
    parse("price", parse_money, "an amount such as 500")
    parse("start_date", parse_date, "a date as YYYY-MM-DD", flight[0])
    parse("end_date", parse_date, "a date as YYYY-MM-DD", flight[1])
    if out.get("podcast_id") is None and "podcast_id" not in errors:
        errors["podcast_id"] = "required"
    if out.get("position") not in POSITIONS and "position" not in errors:
        errors["position"] = "pre, mid or post"
    if out.get("read_type") not in READ_TYPES and "read_type" not in errors:
        errors["read_type"] = "host_read or produced"
    if out.get("insertion") not in INSERTIONS and "insertion" not in errors:
        errors["insertion"] = "dynamic (inserted per download) or baked (in the audio file)"
    if out.get("price") is not None and out["price"] < 0:
        errors["price"] = "cannot be negative"
    start, end = out.get("start_date"), out.get("end_date")
    if start and end and "start_date" not in errors and "end_date" not in errors:
        if end < start:
            errors["end_date"] = "on or after the start date"
        if start < flight[0] or start > flight[1]:
            errors["start_date"] = f"inside the campaign's flight ({flight[0]} to {flight[1]})"
        if end > flight[1] or end < flight[0]:
            errors["end_date"] = f"inside the campaign's flight ({flight[0]} to {flight[1]})"
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return out


def _conflicts(s, tenant_id: int, placement_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Per placement: other sponsors of the same industry whose placements share an episode in overlapping days.

    Two placements share an episode when both name it, or one covers the show's episodes and the other names one
    of them, or both cover the same show (each covers the episodes the show releases in the shared days)."""
    if not placement_ids:
        return {}
    mine, theirs = aliased(Placement), aliased(Placement)
    my_campaign, their_campaign = aliased(Campaign), aliased(Campaign)
    my_sponsor, their_sponsor = aliased(Sponsor), aliased(Sponsor)
    # A show-wide placement covers every episode of the show in its days, so it meets any placement on that show.
    same_episode = or_(mine.episode_id.is_(None), theirs.episode_id.is_(None), mine.episode_id == theirs.episode_id)
    rows = s.execute(
        select(mine.id, their_sponsor.name, their_campaign.name)
        .join(my_campaign, my_campaign.id == mine.campaign_id)
        .join(my_sponsor, my_sponsor.id == my_campaign.sponsor_id)
        .join(theirs, and_(theirs.tenant_id == tenant_id, theirs.podcast_id == mine.podcast_id, theirs.id != mine.id,
                           theirs.start_date <= mine.end_date, theirs.end_date >= mine.start_date, same_episode))
        .join(their_campaign, their_campaign.id == theirs.campaign_id)
        .join(their_sponsor, their_sponsor.id == their_campaign.sponsor_id)
        .where(mine.tenant_id == tenant_id, mine.id.in_(placement_ids), my_sponsor.industry.is_not(None),
               func.lower(my_sponsor.industry) == func.lower(their_sponsor.industry),
               my_sponsor.id != their_sponsor.id, their_campaign.status.not_in(("cancelled",)))
        .order_by(mine.id, their_sponsor.name)).all()
    found: dict[int, list[str]] = {}
    for placement_id, sponsor, campaign in rows:
        label = f"{sponsor} ({campaign})"
        if label not in found.setdefault(placement_id, []):
            found[placement_id].append(label)
    return {k: tuple(v) for k, v in found.items()}


def list_placements(db: Database, ctx: TenantContext, campaign_id: int) -> list[PlacementRow]:
    """The campaign's placements with their competing-sponsor flags (competitors are named to staff only)."""
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
        rows = s.execute(select(Placement, Podcast.title, Episode.title)
                         .join(Podcast, Podcast.id == Placement.podcast_id)
                         .outerjoin(Episode, Episode.id == Placement.episode_id)
                         .where(Placement.tenant_id == ctx.tenant_id, Placement.campaign_id == campaign_id)
                         .order_by(Placement.start_date, Placement.id)).all()
        conflicts = _conflicts(s, ctx.tenant_id, [p.id for p, _, _ in rows])
    result = []
    for p, podcast, episode in rows:
        flags = conflicts.get(p.id, ())
        if ctx.is_sponsor:  # a sponsor never learns another sponsor's name
            flags = ("another sponsor of your industry",) if flags else ()
        result.append(PlacementRow(p.id, p.campaign_id, p.podcast_id, podcast, p.episode_id, episode, p.position,
                                   p.read_type, None if p.price is None else float(p.price), p.start_date, p.end_date,
                                   flags, p.insertion))
    return result


def create_placement(db: Database, ctx: TenantContext, campaign_id: int, data: dict) -> PlacementRow:
    """Add a placement to an open campaign (editors and above); audited. The caller refreshes delivery."""
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        if campaign.status in CLOSED:
            raise Conflict(f"a {campaign.status} campaign takes no new placements")
        values = clean_placement(data, (campaign.start_date, campaign.end_date))
        show = s.execute(select(Podcast.id, Podcast.category).where(Podcast.id == values["podcast_id"],
                                                                    Podcast.tenant_id == ctx.tenant_id)).first()
        if show is None:
            raise ValidationError(f"no podcast {values['podcast_id']}", {"podcast_id": "no such podcast"})
        podcast, category = show
        excluded = {c.lower() for c in campaign.excluded_categories or []}
        if category and category.lower() in excluded:  # brand safety: the sponsor never appears there
            raise ValidationError(f"{category} is excluded by this campaign",
                                  {"podcast_id": f"in an excluded category ({category})"})
        if values["episode_id"] is not None and s.scalar(select(Episode.id).where(
                Episode.id == values["episode_id"], Episode.podcast_id == podcast,
                Episode.tenant_id == ctx.tenant_id)) is None:
            raise ValidationError(f"no episode {values['episode_id']} in that podcast",
                                  {"episode_id": "not an episode of this podcast"})
        placement = Placement(tenant_id=ctx.tenant_id, campaign_id=campaign.id, **values)
        s.add(placement)
        s.flush()
        audit.record(s, ctx, "placement.created", "campaign", campaign.id,
                     {"placement_id": placement.id, "podcast_id": podcast, "episode_id": values["episode_id"]})
        outbox.record(s, ctx.tenant_id, "placement.added",
                      {"campaign_id": campaign.id, "placement_id": placement.id, "podcast_id": podcast,
                       "episode_id": values["episode_id"], "sponsor_id": campaign.sponsor_id})
        s.commit()
        placement_id = placement.id
    return next(p for p in list_placements(db, ctx, campaign_id) if p.id == placement_id)


def delete_placement(db: Database, ctx: TenantContext, campaign_id: int, placement_id: int) -> None:
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        campaign = visible_campaign(s, ctx, campaign_id)
        if campaign.status in CLOSED:
            raise Conflict(f"a {campaign.status} campaign's placements are final")
        gone = s.execute(delete(Placement).where(Placement.id == placement_id, Placement.campaign_id == campaign.id,
                                                 Placement.tenant_id == ctx.tenant_id)).rowcount
        if not gone:
            raise NotFound(f"no placement {placement_id}")
        audit.record(s, ctx, "placement.deleted", "campaign", campaign.id, {"placement_id": placement_id})
        s.commit()


def placement_options(db: Database, ctx: TenantContext) -> dict:
    """The shows and their recent episodes, for the placement form (staff only: it lists the whole catalog)."""
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        podcasts = s.execute(select(Podcast.id, Podcast.title).where(Podcast.tenant_id == ctx.tenant_id)
                             .order_by(Podcast.title)).all()
        episodes = s.execute(select(Episode.id, Episode.podcast_id, Episode.title, Episode.published_at)
                             .where(Episode.tenant_id == ctx.tenant_id)
                             .order_by(Episode.published_at.desc()).limit(2000)).all()
    by_show: dict[int, list] = {}
    for episode_id, podcast_id, title, published in episodes:
        by_show.setdefault(podcast_id, []).append((episode_id, title, published))
    return {"podcasts": [(i, t) for i, t in podcasts], "episodes": by_show}

