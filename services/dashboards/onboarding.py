"""The getting-started checklists: what a new network has done so far, derived from its data (never ticked by hand).
The podcast side (a feed, the tracking prefix or a log import, the first counted downloads) until downloads are
counted; then, while the sponsor side is unfinished, the sponsor side (a sponsor, a campaign, a placement, delivery)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select

from services.db import Database
from services.measurement.store import view
from services.models import (
    Campaign, CampaignMetric, DownloadRequest, LogImport, Placement, Podcast, PodcastDailyMetric, Sponsor,
)
from services.tenancy import TenantContext, require_staff


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    href: str  # where the step is done


@dataclass(frozen=True)
class Onboarding:
    podcast_steps: tuple[Step, ...]
    sponsor_steps: tuple[Step, ...]
    first_prefix_key: str | None  # the first podcast's tracking prefix key, for the instructions

    @property
    def has_podcasts(self) -> bool:
        return self.podcast_steps[0].done

    @property
    def podcast_side_open(self) -> bool:
        """Until the first downloads are counted."""
        return not self.podcast_steps[-1].done

    @property
    def sponsor_side_open(self) -> bool:
        """A network with podcasts and counted downloads whose sponsor side is not yet delivering."""
        return not self.podcast_side_open and not all(step.done for step in self.sponsor_steps)


def onboarding_status(db: Database, ctx: TenantContext) -> Onboarding:
    """Both checklists for the context's tenant (tenant staff only: a sponsor user gets PermissionDenied)."""
    require_staff(ctx)
    tenant = ctx.tenant_id
    requests, daily = view(DownloadRequest).c, view(PodcastDailyMetric).c

    def any_row(where) -> bool:
        return bool(s.scalar(select(exists().where(*where))))

    with db.session(tenant) as s:
        prefix_key = s.scalar(select(Podcast.prefix_key).where(Podcast.tenant_id == tenant).order_by(Podcast.id)
                              .limit(1))
        counted = any_row((daily.tenant_id == tenant, daily.downloads > 0))
        prefix_hit = counted or any_row((requests.tenant_id == tenant, requests.source == "prefix"))
        imported = any_row((LogImport.tenant_id == tenant,))
        podcast_steps = (
            Step("feed", "Add your show's feed", prefix_key is not None, "/podcasts"),
            Step("prefix", "Put the tracking prefix in front of your enclosures", prefix_hit, "/welcome#hosts"),
            Step("logs", "Or import your host's download logs", imported, "/logs"),
            Step("downloads", "See your first downloads", counted, "/"),
        )
        sponsor_steps = (
            Step("sponsor", "Add a sponsor", any_row((Sponsor.tenant_id == tenant,)), "/sponsors"),
            Step("campaign", "Create a campaign", any_row((Campaign.tenant_id == tenant,)), "/campaigns"),
            Step("placement", "Place it on a show", any_row((Placement.tenant_id == tenant,)), "/campaigns"),
            Step("delivery", "See its delivery",
                 any_row((CampaignMetric.tenant_id == tenant, CampaignMetric.impressions > 0)), "/campaigns"),
        )
    return Onboarding(podcast_steps, sponsor_steps, prefix_key)
