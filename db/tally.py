"""The request path's metrics, kept as plain lists and handed to prometheus_client in
bulk once a second, and before a scrape of /metrics on the API's port.

prometheus_client takes a lock and makes several Python calls for each observation:
about 130 opcodes for a histogram's, and a small read makes half a dozen (its request,
latency and statement count; its batch's keys, its wait for a connection, its
statement's time). That was most of what metrics cost a post-by-id read (bench/
README.md, "Counted again"). Here an observation is one `list.append` of (labels, value) to
its metric's `Pending` list; `flush` sorts each list and counts it into buckets with
bisection, C loops both. A scrape reads the same metrics, at most FLUSH_S late where it
does not flush first (the metrics port's thread, the other workers' files).

Only the event loop's thread appends and flushes: nothing here is locked.

prometheus_client has no public way to add many observations to a histogram at once:
`_add_to_histogram` reads a child's `_upper_bounds` and adds to its `_sum` and
`_buckets` (stable since prometheus_client 0.4), the one place this project touches
its private parts.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from bisect import bisect_left
from collections.abc import Callable
from itertools import groupby, repeat
from operator import itemgetter
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

FLUSH_S = 1.0
log = logging.getLogger(__name__)

Labels = tuple[str, ...]
M = TypeVar("M", Counter, Gauge, Histogram)

# Children by metric and label values. prometheus_client's `labels()` checks its
# arguments, turns each into a string and takes a lock on every call. Keyed by the
# metric itself, not its id: a metric made again (tests) must not find the old one's.
_children: dict[tuple[object, Labels], Any] = {}


def child(metric: M, *values: str) -> M:
    """`metric.labels(*values)`, made once. Label values must be few (shapes, reads,
    pools, the bounded operation names): each child is kept for the process's life."""
    key = (metric, values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return found


class Pending(list[tuple[Labels, float]]):
    """A counter's increments or a histogram's observations since the last flush, as
    (label values, amount or value): `append` is all one costs the request path."""

    def __init__(self, metric: Counter | Histogram) -> None:
        super().__init__()
        self.metric = metric


_by_labels = itemgetter(0)
_value = itemgetter(1)


class Tally:
    def __init__(self) -> None:
        self._pending: list[Pending] = []
        self._ticks: list[Callable[[], None]] = []
        self._timer: asyncio.TimerHandle | None = None

    def pending(self, metric: Counter | Histogram) -> Pending:
        found = Pending(metric)
        self._pending.append(found)
        return found

    def every_flush(self, tick: Callable[[], None]) -> None:
        """Call `tick` after each flush (the pools' gauges are set then)."""
        self._ticks.append(tick)

    def start(self) -> None:
        """Flush every FLUSH_S on the running loop, until `stop`."""
        self.stop()
        self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self._tick)
        self.flush()

    def flush(self) -> None:
        """Everything appended so far, into prometheus_client's metrics. A metric that
        cannot take its batch loses that batch, logged; the others are not held up."""
        for pending in self._pending:
            if pending:
                items = pending.copy()
                pending.clear()
                try:
                    _hand_on(pending.metric, items)
                except Exception:
                    log.exception("metrics: %d observations of %s lost", len(items), _name(pending))
        for tick in self._ticks:
            try:
                tick()
            except Exception:
                log.exception("metrics: a flush's tick failed")


def _hand_on(metric: Counter | Histogram, items: list[tuple[Labels, float]]) -> None:
    items.sort()  # by labels, then value: each group's values come out sorted
    for labels, group in groupby(items, _by_labels):
        values = list(map(_value, group))
        target: Any = child(metric, *labels) if labels else metric  # type: ignore[type-var]
        if isinstance(metric, Histogram):
            _add_to_histogram(target, values)
        else:
            target.inc(sum(values))


def _name(pending: Pending) -> str:
    return str(next(iter(pending.metric.describe())).name)


def _add_to_histogram(histogram: Any, values: list[float]) -> None:
    """Add `values`: a value on a bucket's bound counts in that bucket, as Prometheus'
    `le` says and `Histogram.observe` does (the bucketing is C's: `map` over `bisect`)."""
    histogram._sum.inc(sum(values))
    bounds = histogram._upper_bounds
    buckets = histogram._buckets
    for index, count in collections.Counter(map(bisect_left, repeat(bounds), values)).items():
        buckets[index].inc(count)
