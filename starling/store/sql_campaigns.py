"""Promotion campaigns in the store of record, what each has spent, and the hashtags of
an account's recent activity that targeting matches them against: reads and writes
written once for every SQL backend (mixed into sql_reads.SqlReads and
sql_transaction.SqlTransaction).
See docs/subsystems/ads.md and docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starling.ads.campaign import Campaign
from starling.store.dialect import Dialect
from starling.store.rows import LIVE
from starling.store.sql import Sql

CAMPAIGN_COLUMNS = (
    "id, advertiser_id, post_id, budget_cents, bid_cpm_cents, starts_at, ends_at, status,"
    " regions, interests, created_at"
)
INSERT_CAMPAIGN = f"INSERT INTO ad_campaigns ({CAMPAIGN_COLUMNS}) VALUES ({', '.join('?' * 11)})"


def campaign_row(c: Campaign) -> tuple[object, ...]:
    return (
        c.id, c.advertiser_id, c.post_id, c.budget_cents, c.bid_cpm_cents, c.starts_at,
        c.ends_at, c.status, " ".join(c.regions), " ".join(c.interests), c.created_at,
    )  # fmt: skip


def campaign_from_row(row: Any) -> Campaign:
    (
        campaign_id, advertiser_id, post_id, budget_cents, bid_cpm_cents, starts_at, ends_at,
        status, regions, interests, created_at,
    ) = row  # fmt: skip
    return Campaign(
        campaign_id, advertiser_id, post_id, budget_cents, bid_cpm_cents, starts_at, ends_at,
        status, tuple(regions.split()), tuple(interests.split()), created_at,
    )  # fmt: skip


class SqlCampaignReads:
    _sql: Sql
    _dialect: Dialect

    def get_campaigns(self, ids: Iterable[int]) -> dict[int, Campaign]:
        d = self._dialect
        sql = f"SELECT {CAMPAIGN_COLUMNS} FROM ad_campaigns WHERE id {d.in_ids}"
        return {row[0]: campaign_from_row(row) for row in self._sql.rows(sql, (d.ids(ids),))}

    def campaigns(
        self, *, status: str | None = None, ending_after: int | None = None
    ) -> list[Campaign]:
        where, params = ["1 = 1"], list[object]()
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if ending_after is not None:
            where.append("ends_at > ?")
            params.append(ending_after)
        sql = f"SELECT {CAMPAIGN_COLUMNS} FROM ad_campaigns WHERE {' AND '.join(where)}"
        return [campaign_from_row(row) for row in self._sql.rows(f"{sql} ORDER BY id DESC", params)]

    def campaign_spend(self, ids: Iterable[int]) -> dict[int, int]:
        d = self._dialect
        sql = f"SELECT id, spent_millicents FROM ad_campaigns WHERE id {d.in_ids}"
        return {campaign_id: spent for campaign_id, spent in self._sql.rows(sql, (d.ids(ids),))}

    def recent_hashtags(self, account_id: int, limit: int) -> set[str]:
        # Own posts walk posts_author newest first, likes the likes key; a repost counts
        # with its original's hashtags (a repost row has none of its own).
        sql = (
            "SELECT hashtags FROM posts WHERE id IN ("
            " SELECT COALESCE(mine.repost_of_id, mine.id) FROM ("
            f"  SELECT id, repost_of_id FROM posts WHERE author_id = ? AND {LIVE}"
            "   ORDER BY id DESC LIMIT ?) AS mine"
            " UNION SELECT liked.post_id FROM ("
            "  SELECT post_id FROM likes WHERE account_id = ?"
            "   ORDER BY created_at DESC LIMIT ?) AS liked"
            f") AND hashtags <> '' AND {LIVE}"
        )
        rows = self._sql.rows(sql, (account_id, limit, account_id, limit))
        return {tag for (tags,) in rows for tag in tags.split()}


class SqlCampaignWrites:
    _sql: Sql

    def insert_campaign(self, campaign: Campaign) -> None:
        self._sql.run(INSERT_CAMPAIGN, campaign_row(campaign))

    def add_campaign_spend(self, amounts: Sequence[tuple[int, int]]) -> None:
        self._sql.many(
            "UPDATE ad_campaigns SET spent_millicents = spent_millicents + ? WHERE id = ?",
            [(amount, campaign_id) for campaign_id, amount in amounts],
        )

    def update_campaign_status(
        self, campaign_id: int, status: str, from_statuses: Sequence[str]
    ) -> Campaign | None:
        marks = ", ".join("?" * len(from_statuses))
        row = self._sql.one(
            f"UPDATE ad_campaigns SET status = ? WHERE id = ? AND status IN ({marks})"
            f" RETURNING {CAMPAIGN_COLUMNS}",
            (status, campaign_id, *from_statuses),
        )
        return None if row is None else campaign_from_row(row)
