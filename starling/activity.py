"""Activity marks: when each account last read its timeline (seed: active users get pushes).

Fan-out pushes only to followers active within `Settings.active_days`; a read marks its
viewer active. The mark is written at most hourly per account per process, and it is not
an action: it emits no event and derives nothing. See docs/subsystems/home.md.
"""

from __future__ import annotations

from starling.ids import now_ms
from starling.store.base import Store

WRITE_EVERY_MS = 3600 * 1000
KEPT = 100_000  # marks held before stale ones are swept


class ActivityMarks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._touched: dict[int, int] = {}
        self._sweep_at = KEPT

    def touch(self, account_id: int) -> None:
        """Marks an account active; written at most hourly per account per process."""
        now = now_ms()
        if now - self._touched.get(account_id, 0) < WRITE_EVERY_MS:
            return
        with self.store.transaction() as tx:
            tx.set_last_active(account_id, now)
        if len(self._touched) >= self._sweep_at:
            # Forget marks older than the hour: they no longer throttle anything. The next
            # sweep waits until the map doubles, so sweeping stays amortised O(1).
            self._touched = {a: t for a, t in self._touched.items() if now - t < WRITE_EVERY_MS}
            self._sweep_at = max(KEPT, 2 * len(self._touched))
        self._touched[account_id] = now

    def recently_touched(self, account_id: int) -> bool:
        """True when this process marked the account active within the hour."""
        return now_ms() - self._touched.get(account_id, 0) < WRITE_EVERY_MS
