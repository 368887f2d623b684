"""Time-ordered ids in Mastodon's format."""

from __future__ import annotations

import threading

import pytest

from starling.ids import IdGenerator, id_at, ms_of, now_ms


def test_format_is_milliseconds_shifted_by_sixteen() -> None:
    assert id_at(1_700_000_000_000, 5) == (1_700_000_000_000 << 16) | 5
    assert ms_of(id_at(1_700_000_000_000, 65_535)) == 1_700_000_000_000


def test_ids_are_unique_and_increasing_across_threads() -> None:
    ids = IdGenerator()
    made: list[list[int]] = [[] for _ in range(8)]

    def work(i: int) -> None:
        made[i] = [ids.next_id() for _ in range(5_000)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for chunk in made for i in chunk]
    assert len(set(everything)) == len(everything)
    assert all(chunk == sorted(chunk) for chunk in made)
    assert abs(ms_of(max(everything)) - now_ms()) < 60_000  # borrowing stays near the clock


def test_never_reissues_an_observed_id() -> None:
    ids = IdGenerator()
    future = id_at(now_ms() + 3_600_000)
    ids.observe(future)
    assert ids.next_id() == future + 1


def test_processes_with_different_nodes_never_make_the_same_id() -> None:
    # Two API processes in the same milliseconds: each id carries its maker's node.
    first, second = IdGenerator(node=0), IdGenerator(node=1)
    made = [gen.next_id() for _ in range(10_000) for gen in (first, second)]
    assert len(set(made)) == len(made)
    assert {(i >> 12) & 0xF for i in made[0::2]} == {0}
    assert {(i >> 12) & 0xF for i in made[1::2]} == {1}


def test_a_node_continues_above_an_id_of_another_node() -> None:
    ids = IdGenerator(node=2)
    other = id_at(now_ms() + 3_600_000, (3 << 12) | 7)  # node 3's, in the future
    ids.observe(other)
    following = ids.next_id()
    assert following > other and (following >> 12) & 0xF == 2


def test_node_numbers_are_bounded() -> None:
    with pytest.raises(ValueError):
        IdGenerator(node=16)
