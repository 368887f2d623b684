"""Settings, read from STARLING_* environment variables (pydantic-settings).
See docs/architecture.md."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from starling.ids import now_ms

DAY_MS = 24 * 3600 * 1000
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "0.0.0.0", "localhost")


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
    redis_url: str | None = Field(
        None,
        description="Redis (one server or a cluster) for the timeline cache and counters;"
        " unset means in-process",
    )
    redis_prefix: str = Field("", description="prefix of every Redis key (several instances)")
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
    max_body_bytes: int = Field(1_000_000, description="larger request bodies get 413")
    id_node: int = Field(
        0, description="this process's number (0-15) in the ids it makes; unique per API process"
    )
    access_log: bool = Field(True, description="log every request (uvicorn's access log)")
    api_threads: int = Field(
        4, description="threads that run request handlers at once (more queue for one)"
    )
    workers: str = Field(
        "all", description="workers run inside `starling serve`: 'all', 'none' or a comma list"
    )

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limits.strip().lower() not in {"off", "0", "false", "no"}

    @property
    def public_domain(self) -> str:
        """The domain in URLs and `acct`s: the setting, else where the API listens."""
        if self.domain:
            return self.domain
        host = "localhost" if self.host in LOOPBACK_HOSTS else self.host
        return f"{host}:{self.port}"

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
