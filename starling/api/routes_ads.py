"""The admin API of promotion campaigns: /api/v1/admin/ads/campaigns. Only accounts
named in STARLING_ADMINS may call it, with a token holding admin:read (lists) or
admin:write (changes); anyone else gets 403, no token 401. The acting admin is the
token's account; the advertiser is a field of the campaign, never the caller. See
docs/subsystems/ads.md and docs/subsystems/api.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import field_validator

from starling.ads.admin import Draft, Report
from starling.api.deps import AdsDep, ReadAdmin, WriteAdmin
from starling.api.errors import ApiError
from starling.api.forms import Form, parsed
from starling.api.paging import cursor
from starling.api.render import Entity, iso_time

router = APIRouter(tags=["admin"])


class CampaignForm(Form):
    advertiser_id: int
    post_id: int
    budget_cents: int
    bid_cpm_cents: int
    ends_at: datetime
    starts_at: datetime | None = None
    regions: list[str] = []
    interests: list[str] = []

    @field_validator("ends_at", "starts_at")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (e.g. Z)")
        return value

    def draft(self) -> Draft:
        return Draft(
            advertiser_id=self.advertiser_id,
            post_id=self.post_id,
            budget_cents=self.budget_cents,
            bid_cpm_cents=self.bid_cpm_cents,
            ends_at=_ms(self.ends_at),
            starts_at=None if self.starts_at is None else _ms(self.starts_at),
            regions=self.regions,
            interests=self.interests,
        )


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def campaign_entity(report: Report, now: int) -> Entity:
    c = report.campaign
    return {
        "id": str(c.id),
        "advertiser_id": str(c.advertiser_id),
        "post_id": str(c.post_id),
        "status": c.state(now),
        "budget_cents": c.budget_cents,
        "bid_cpm_cents": c.bid_cpm_cents,
        "spent_cents": report.spent / 1000,
        "impressions": report.impressions,
        "starts_at": iso_time(c.starts_at),
        "ends_at": iso_time(c.ends_at),
        "regions": list(c.regions),
        "interests": list(c.interests),
        "created_at": iso_time(c.created_at),
    }


def _campaign_id(raw: str) -> int:
    found = cursor("id", raw)
    if found is None:
        raise ApiError(404, "Record not found")
    return found


@router.post("/api/v1/admin/ads/campaigns")
def create(
    ads: AdsDep, me: WriteAdmin, form: Annotated[CampaignForm, Depends(parsed(CampaignForm))]
) -> Entity:
    campaign = ads.create(form.draft())
    return campaign_entity(Report(campaign, 0), ads.clock())


@router.get("/api/v1/admin/ads/campaigns")
def list_campaigns(ads: AdsDep, me: ReadAdmin) -> list[Entity]:
    now = ads.clock()
    return [campaign_entity(report, now) for report in ads.reports()]


@router.get("/api/v1/admin/ads/campaigns/{campaign_id}")
def show(ads: AdsDep, me: ReadAdmin, campaign_id: str) -> Entity:
    return campaign_entity(ads.get(_campaign_id(campaign_id)), ads.clock())


@router.post("/api/v1/admin/ads/campaigns/{campaign_id}/pause")
def pause(ads: AdsDep, me: WriteAdmin, campaign_id: str) -> Entity:
    ads.pause(_campaign_id(campaign_id))
    return campaign_entity(ads.get(_campaign_id(campaign_id)), ads.clock())


@router.post("/api/v1/admin/ads/campaigns/{campaign_id}/resume")
def resume(ads: AdsDep, me: WriteAdmin, campaign_id: str) -> Entity:
    ads.resume(_campaign_id(campaign_id))
    return campaign_entity(ads.get(_campaign_id(campaign_id)), ads.clock())
