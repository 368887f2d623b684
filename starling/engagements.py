"""Engagements as columns: who engaged with which post (and its author), how, and when.

The one batch type the store's engagement scan (`Store.iter_engagements`) hands out and
the real graph (starling/realgraph/) stores: five numpy columns of equal length, never one
object per engagement. See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]
KindArray = npt.NDArray[np.int8]
Index = npt.NDArray[np.intp] | npt.NDArray[np.bool_] | npt.NDArray[np.int32] | slice


class EngagementKind(IntEnum):
    LIKE = 0
    REPOST = 1
    REPLY = 2


@dataclass(frozen=True, slots=True)
class Engagements:
    account: IdArray  # who engaged
    post: IdArray  # the post engaged with
    author: IdArray  # the post's author
    kind: KindArray  # EngagementKind values
    time: IdArray  # when, in ms

    @property
    def size(self) -> int:
        return len(self.account)

    def take(self, index: Index) -> Engagements:
        """The rows at these positions (or where the mask is set), in that order."""
        return Engagements(
            self.account[index], self.post[index], self.author[index], self.kind[index],
            self.time[index],
        )  # fmt: skip

    def columns(self) -> tuple[npt.NDArray[np.int64] | KindArray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def empty(cls) -> Engagements:
        return cls.of_rows([])

    @classmethod
    def of_rows(cls, rows: Sequence[tuple[int, int, int, int, int]]) -> Engagements:
        """From (account, post, author, kind, time) rows, e.g. a query's."""
        table = np.array(rows, dtype=np.int64).reshape(-1, 5)
        account, post, author, kind, time = table.T
        return cls(
            np.ascontiguousarray(account),
            np.ascontiguousarray(post),
            np.ascontiguousarray(author),
            kind.astype(np.int8),
            np.ascontiguousarray(time),
        )

    @classmethod
    def concat(cls, parts: Iterable[Engagements]) -> Engagements:
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.account for p in parts]),
            np.concatenate([p.post for p in parts]),
            np.concatenate([p.author for p in parts]),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.time for p in parts]),
        )
