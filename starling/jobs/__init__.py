"""Scheduled jobs: the recomputations that cannot run per event (SimClusters communities,
account embeddings) run again once their newest output is older than their interval.

`job.py` names each job, its `starling` command and where its versions land;
`schedule.py` decides what is due from the age of each job's newest version (so a restart
does not rerun a job that ran recently, and a job that never ran is due at once) and backs
off after a failure; `child.py` runs a job as a child process whose output is relayed,
prefixed with its name; `lock.py` is the data dir's lock that lets exactly one process
schedule; `scheduler.py` ties them together, on a thread of `starling serve` or in the
foreground of `starling jobs`. Servers pick up each new version without a restart
(starling/artifacts.py). See docs/subsystems/jobs.md.
"""
