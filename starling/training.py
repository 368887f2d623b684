"""What the training commands share: the error for a store with too little to learn from
yet (a new instance), and the exit status that reports it, which the job scheduler waits
on instead of counting a failure. See docs/subsystems/jobs.md.
"""

from __future__ import annotations

TOO_LITTLE_DATA = 3  # the exit status of `starling train` when it raises TooLittleData


class TooLittleData(ValueError):
    """The store holds too little for this model yet; nothing was saved."""
