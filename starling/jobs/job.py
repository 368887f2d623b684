"""The scheduled jobs, by name: what each runs and where its versions land.
See docs/subsystems/jobs.md."""

from __future__ import annotations

from dataclasses import dataclass

from starling.artifacts import Artifacts
from starling.config import Settings
from starling.simclusters.versions import artifacts_in as communities_in
from starling.simclusters.versions import directory_in
from starling.twhin.embeddings import artifacts_in as embeddings_in


@dataclass(frozen=True)
class Job:
    name: str
    command: tuple[str, ...]  # the `starling` arguments of one run
    interval_s: float  # runs again once its newest version is this old; 0: never
    output: Artifacts  # the versions a run saves

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    def made_at(self) -> float | None:
        """When the newest version was made (seconds since the epoch: a version is its
        milliseconds), None before the first run."""
        saved = self.output.versions()
        return int(saved[-1]) / 1000 if saved else None


def jobs_of(settings: Settings) -> list[Job]:
    """Every job, with the intervals these settings give it."""
    data_dir = settings.data_dir
    return [
        Job(
            "simclusters",
            ("train", "simclusters"),
            settings.job_simclusters_interval_s,
            communities_in(directory_in(data_dir)),
        ),
        Job(
            "embeddings",
            ("train", "embeddings"),
            settings.job_embeddings_interval_s,
            embeddings_in(data_dir),
        ),
    ]
