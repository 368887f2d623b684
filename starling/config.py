"""Settings, read from STARLING_* environment variables (pydantic-settings).
See docs/architecture.md."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from starling.foryou.budgets import DEFAULT_SCALE
from starling.ids import now_ms

DAY_MS = 24 * 3600 * 1000
# Listening on every interface: clients on this machine reach the API at the loopback.
WILDCARD_HOSTS = ("", "0.0.0.0", "::")
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
PORT_RE = re.compile(r":\d+$")


def scaled_thresholds(threshold: int) -> dict[str, int]:
    """The four celebrity thresholds around a base one, in the defaults' proportions
    (100k; 50k under load, 25k for breaking news, 200k with capacity raised)."""
    return {
        "celebrity_threshold": threshold,
        "celebrity_threshold_under_load": max(1, threshold // 2),
        "celebrity_threshold_breaking_news": max(1, threshold // 4),
        "celebrity_threshold_raised": threshold * 2,
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STARLING_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="where the embedded store and log live")
    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8080, description="port the API listens on")
    domain: str = Field("", description="instance domain shown to clients; empty: HOST:PORT")
    store_url: str | None = Field(
        None,
        description="store of record: sqlite:///PATH or postgresql://...; unset: SQLite in"
        " the data dir",
    )
    log_url: str | None = Field(
        None, description="event log: redis://... for Redis Streams; unset: the store's outbox"
    )
    log_claim_after_s: float = Field(
        10.0, description="seconds after which a silent consumer's events go to another"
    )
    log_partitions: int = Field(
        8,
        description="partition streams of the Redis Streams log: an event goes to partition"
        " partition_key mod N",
    )
    log_retention_s: float = Field(
        86_400.0, description="seconds a relayed event stays in the outbox and the streams"
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the timeline cache and counters, one server or any node of a"
        " Redis Cluster; unset means in-process",
    )
    redis_prefix: str = Field(
        "", description="prefix of every Redis key (several instances); no braces"
    )
    celebrity_threshold: int = Field(
        100_000, description="followers at which an author's posts are pulled, not pushed"
    )
    celebrity_threshold_under_load: int = Field(50_000, description="threshold when backlogged")
    celebrity_threshold_breaking_news: int = Field(
        25_000, description="threshold while breaking news is flagged"
    )
    celebrity_threshold_raised: int = Field(
        200_000, description="threshold when capacity is raised"
    )
    fanout_backlog_limit: int = Field(
        10_000, description="events waiting for fan-out above which the threshold is lowered"
    )
    breaking_news: bool = Field(False, description="start with breaking news flagged")
    capacity_raised: bool = Field(False, description="start with fan-out capacity raised")
    velocity_posts_per_hour: int = Field(
        10, description="posts in an hour above which an author at half the threshold is pulled"
    )
    notify_push_limit: int = Field(
        10_000, description="celebrity followers with notifications on who still get a push"
    )
    timeline_size: int = Field(800, description="entries kept per home timeline")
    active_days: float = Field(7.0, description="followers read within this many days get pushes")
    fanout_chunk: int = Field(5_000, description="followers written per cache round trip")
    rate_limits: str = Field("on", description="'on' or 'off' (load tests and benchmarks)")
    rate_limit_per_token: int = Field(300, description="requests per token per window")
    rate_limit_per_ip: int = Field(300, description="unauthenticated requests per IP per window")
    rate_limit_ip_all: int = Field(
        7_500, description="all requests per IP per window, with a token or without"
    )
    rate_limit_window_s: int = Field(300, description="rate limit window in seconds")
    access_log: bool = Field(
        True, description="one log line per request; off for load tests and benchmarks"
    )
    max_body_bytes: int = Field(1_000_000, description="larger request bodies get 413")
    id_node: int = Field(
        0, description="this process's number (0-15) in the ids it makes; unique per API process"
    )
    api_threads: int = Field(
        4, description="threads that run request handlers at once (more queue for one)"
    )
    workers: str = Field(
        "all", description="workers run inside `starling serve`: 'all', 'none' or a comma list"
    )
    foryou_budget_scale: float = Field(
        DEFAULT_SCALE,
        gt=0,
        description="For You's latency budgets as a share of the seed's (1.5 s in all); the"
        " default makes the whole request 300 ms",
    )
    admins: str = Field(
        "",
        description="usernames (comma list) whose tokens with an admin scope may use the admin API",
    )
    ad_slots: str = Field(
        "3,15,27", description="positions (comma list, from 1) of For You pages given to ads"
    )
    # The heavy ranker's final score (starling/ranking/heavy/score.py): Twitter's 2023
    # weights of each P(action), then the out-of-network and author-diversity factors.
    heavy_weight_like: float = Field(0.5, description="heavy ranker: weight of P(like)")
    heavy_weight_reply: float = Field(13.5, description="heavy ranker: weight of P(reply)")
    heavy_weight_repost: float = Field(1.0, description="heavy ranker: weight of P(repost)")
    heavy_weight_click: float = Field(11.0, description="heavy ranker: weight of P(click)")
    heavy_weight_negative: float = Field(
        -74.0, description="heavy ranker: weight of P(negative feedback)"
    )
    heavy_out_of_network_factor: float = Field(
        0.75, gt=0, le=1, description="heavy ranker: multiplies out-of-network scores"
    )
    heavy_author_decay: float = Field(
        0.5, gt=0, le=1, description="heavy ranker: each further entry of an author x decay"
    )
    heavy_author_floor: float = Field(
        0.25, ge=0, le=1, description="heavy ranker: the author decay's lowest factor"
    )

    # The scheduled recomputations (starling/jobs/): each runs again once its newest
    # output is this old.
    job_simclusters_interval_s: float = Field(
        86_400.0, ge=0, description="seconds between runs of the SimClusters job; 0: never"
    )
    job_embeddings_interval_s: float = Field(
        86_400.0, ge=0, description="seconds between runs of the embeddings job; 0: never"
    )

    def is_admin(self, username: str) -> bool:
        return username.lower() in {a.strip().lower() for a in self.admins.split(",")} - {""}

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limits.strip().lower() not in {"off", "0", "false", "no"}

    @property
    def public_domain(self) -> str:
        """The domain in URLs and `acct`s: the setting, else where the API listens."""
        if self.domain:
            return self.domain
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def public_url(self) -> str:
        """The instance's origin in every URL it hands out (entities, Link headers, the
        demo banner); plain http only for a development host."""
        host = PORT_RE.sub("", self.public_domain).strip("[]")
        scheme = "http" if host in LOCAL_HOSTS else "https"
        return f"{scheme}://{self.public_domain}"

    def active_since(self) -> int:
        """The time (ms) after which an account counts as recently active: fan-out pushes
        only to such followers, and a timeline idle longer is rebuilt on its next read."""
        return now_ms() - int(self.active_days * DAY_MS)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "starling.sqlite3"

    @property
    def store_location(self) -> str:
        """The store URL: the setting, else the SQLite file in the data dir."""
        return self.store_url or f"sqlite:///{self.store_path}"
