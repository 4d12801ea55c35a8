"""Latency histograms: the buckets of the rollups, and percentiles read back from them.

A duration (ms) falls in one of ``BUCKETS`` (518) buckets: 0 below 1 µs, then geometric
buckets with ratio 1.04 up to 10 minutes, the last one open-ended (a trivial view
takes a few µs: FMD times the view function alone). A rollup row keeps
count, sum, min and max per bucket, so a percentile is found by the cumulative counts
and interpolated between its bucket's own min and max: never further from the exact
value than the bucket is wide (4 %), exact for buckets holding one or two values.
Percentiles follow numpy's default (linear between closest ranks), as FMD's pages do.
"""
import math

LOW_MS, HIGH_MS, RATIO = 0.001, 600_000.0, 1.04
_LOG_RATIO = math.log(RATIO)
BUCKETS = 2 + math.ceil(math.log(HIGH_MS / LOW_MS) / _LOG_RATIO)  # underflow, geometric, overflow


def bucket_of(ms: float) -> int:
    if not ms > LOW_MS:  # also None-like NaN and negative clock steps
        return 0
    return min(BUCKETS - 1, 1 + int(math.log(ms / LOW_MS) / _LOG_RATIO))


class Histogram:
    """Counts per bucket with each bucket's min and max; ``add`` merges rollup rows."""

    __slots__ = ("cells", "count", "total", "_ranks")

    def __init__(self):
        self.cells: dict[int, list] = {}  # bucket -> [count, min, max]
        self.count, self.total = 0, 0.0
        self._ranks = None

    @classmethod
    def of(cls, values) -> "Histogram":
        hist = cls()
        for ms in values:
            hist.add(bucket_of(ms), 1, ms, ms, ms)
        return hist

    def add(self, bucket: int, count: int, total: float, low: float, high: float) -> None:
        cell = self.cells.get(bucket)
        if cell is None:
            self.cells[bucket] = [count, low, high]
        else:
            cell[0] += count
            cell[1], cell[2] = min(cell[1], low), max(cell[2], high)
        self.count += count
        self.total += total
        self._ranks = None

    def merge(self, other: "Histogram") -> None:
        for bucket, (count, low, high) in other.cells.items():
            self.add(bucket, count, 0.0, low, high)
        self.total += other.total

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def value_at(self, rank: int) -> float:
        """The value of 0-based ``rank`` in sorted order, spread evenly over its bucket."""
        if self._ranks is None:
            self._ranks, before = [], 0
            for bucket in sorted(self.cells):
                count, low, high = self.cells[bucket]
                self._ranks.append((before, count, low, high))
                before += count
        for before, count, low, high in self._ranks:  # a few dozen buckets: a scan is enough
            if rank < before + count:
                return low if count == 1 else low + (high - low) * (rank - before) / (count - 1)
        return self._ranks[-1][3] if self._ranks else math.nan

    def percentile(self, p: float) -> float:
        """numpy.percentile(values, p): linear between the two closest ranks."""
        if not self.count:
            return math.nan
        position = p / 100 * (self.count - 1)
        below = math.floor(position)
        low = self.value_at(below)
        if position == below:
            return low
        return low + (position - below) * (self.value_at(below + 1) - low)

    def median(self) -> float:
        return self.percentile(50)

    def nearest_rank(self, p: float) -> float:
        """The nearest-rank percentile (``flask perf report``'s definition)."""
        if not self.count:
            return math.nan
        return self.value_at(max(1, math.ceil(p / 100 * self.count)) - 1)

    def representative(self, n: int) -> list[float]:
        """FMD's ``simplify(values, n)``: the values when there are at most ``n``, else
        ``n`` percentiles from min to max (what its box plots are drawn from)."""
        if self.count <= n:
            return [self.value_at(rank) for rank in range(self.count)]
        return [self.percentile(i * 100 // (n - 1)) for i in range(n)]
