"""The tally hands prometheus_client exactly what observing one by one would have."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from db.tally import FLUSH_S, Tally

BUCKETS = (0.005, 0.01, 0.1, 1.0)
VALUES = [0.001, 0.005, 0.0051, 0.01, 0.5, 1.0, 7.0, 0.0, 0.005]  # on bounds, past them


def _metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram, Histogram]:
    return (
        Counter("calls", "c", ["kind"], registry=registry),
        Histogram("waits", "h", ["pool"], buckets=BUCKETS, registry=registry),
        Histogram("plain", "h", buckets=BUCKETS, registry=registry),
    )


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample but the `_created` timestamps."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_flush_gives_what_observing_one_by_one_gives() -> None:
    one_by_one, tallied = CollectorRegistry(), CollectorRegistry()
    calls, waits, plain = _metrics(one_by_one)
    for value in VALUES:
        calls.labels("a").inc()
        waits.labels("read").observe(value)
        waits.labels("write").observe(value * 2)
        plain.observe(value)
    calls.labels("b").inc(2.5)

    tally = Tally()
    t_calls, t_waits, t_plain = (tally.pending(m) for m in _metrics(tallied))
    for value in VALUES:
        t_calls.append((("a",), 1.0))
        t_waits.append((("read",), value))
        t_waits.append((("write",), value * 2))
        t_plain.append(((), value))
    t_calls.append((("b",), 2.5))
    tally.flush()

    # The same counts; sums equal but for the order floats were added in.
    assert _samples(tallied) == pytest.approx(_samples(one_by_one), rel=1e-12)
    assert _samples(tallied)[("waits_bucket", (("le", "0.005"), ("pool", "read")))] == 4.0
    tally.flush()  # nothing new: nothing changes
    assert _samples(tallied) == pytest.approx(_samples(one_by_one), rel=1e-12)


async def test_started_on_a_loop_it_flushes_every_interval() -> None:
    registry = CollectorRegistry()
    calls, _, _ = _metrics(registry)
    tally = Tally()
    pending = tally.pending(calls)
    ticks: list[None] = []
    tally.every_flush(lambda: ticks.append(None))
    tally.start()
    try:
        pending.append((("a",), 1.0))
        assert registry.get_sample_value("calls_total", {"kind": "a"}) is None  # not yet
        await asyncio.sleep(FLUSH_S + 0.3)
        assert registry.get_sample_value("calls_total", {"kind": "a"}) == 1.0
        assert ticks
    finally:
        tally.stop()
