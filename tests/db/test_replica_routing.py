"""db/replicas.py's choices, without servers: turns, skips, positions, the fallback.

tests/test_replicas.py runs the same against a real primary and streaming replica.
"""

from __future__ import annotations

from typing import Any

import pytest

from db.read_pool import ReadPool
from db.replicas import Replica, Replicas, format_lsn, parse_lsn


class FakeConnection:
    def is_closed(self) -> bool:
        return False


async def unreachable() -> Any:
    raise ConnectionRefusedError("nothing listens there")


async def reachable() -> Any:
    return FakeConnection()


def pool(connect: Any = unreachable) -> ReadPool:
    return ReadPool(connect, size=4, wait_timeout=1.0)


def replicas(count: int, *, primary: ReadPool | None = None) -> Replicas:
    """`count` replicas, all up and caught up, none of which can be connected to."""
    routing = Replicas(primary or pool(), [(f"r{i}", pool()) for i in range(count)])
    for replica in routing.replicas:
        replica.up = replica.seen = True
    return routing


async def test_requests_take_the_replicas_in_turn() -> None:
    routing = replicas(3)
    picks = [await routing.reads_for(None) for _ in range(6)]
    assert picks == [replica.reads for replica in routing.replicas] * 2


async def test_a_replica_down_or_lagging_past_the_setting_is_skipped() -> None:
    routing = replicas(3)
    down, lagging, fine = routing.replicas
    down.up = False
    lagging.lag_s = routing.max_lag_s + 0.1
    assert {await routing.reads_for(None) for _ in range(6)} == {fine.reads}
    fine.up = False
    assert await routing.reads_for(None) is routing.primary


async def test_a_position_is_read_where_it_has_been_replayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routing = replicas(2)
    behind, ahead = routing.replicas
    behind.replayed, ahead.replayed = 100, 200
    for _ in range(4):
        assert await routing.reads_for(150) is ahead.reads
        assert await routing.reads_for(200) is ahead.reads

    asked: list[Replica] = []

    async def ask(self: Replica, within_s: float) -> bool:
        asked.append(self)
        return True  # answered, still at its old position

    monkeypatch.setattr(Replica, "_ask", ask)
    # Past every replica: the one whose turn it is asked afresh, and the primary
    # answers; each asked again only once RECHECK_S has passed.
    for _ in range(4):
        assert await routing.reads_for(300) is routing.primary
    assert sorted(replica.name for replica in asked) == ["r0", "r1"]


async def test_a_replica_that_cannot_be_connected_to_lends_the_primarys_connections() -> None:
    primary = pool(reachable)
    routing = replicas(1, primary=primary)
    (replica,) = routing.replicas
    conn = await replica.reads.acquire()
    assert isinstance(conn, FakeConnection)
    assert not replica.up
    replica.reads.release(conn)
    assert await primary.acquire() is conn  # given back to the primary's pool


def test_positions_read_and_write_as_postgresql_spells_them() -> None:
    assert parse_lsn("16/B374D848") == 0x16_B374D848
    assert format_lsn(0x16_B374D848) == "16/B374D848"
    assert parse_lsn("0/0") == 0
    for malformed in ("", "16", "16/", "/1", "16/B374D848/1", "x/1", "123456789/0", " 0/1"):
        assert parse_lsn(malformed) is None
