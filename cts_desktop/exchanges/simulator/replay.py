"""The simulator's price path: recorded 5-minute candles replayed as a continuous, piecewise-linear price.

Each candle is walked through four vertices: a green candle (close >= open) goes O → L → H → C, a red one
O → H → L → C, so every recorded high and low is really touched and TP/SL levels inside a bar trigger in a
believable order. Recorded timestamps are shifted so that the replay appears to run "now": candle ``k`` opens
at ``origin_ms + k * 5 min``. The replay clock (``ReplayClock``) moves the path at real time, at ×N, or only when a
test steps it, while exchange timestamps follow the wall clock.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CANDLE_MS = 5 * 60 * 1000
FUNDING_INTERVAL_MS = 8 * 60 * 60 * 1000


def default_replay_dir() -> Path:
    """The shipped dataset under ``resources/replay`` (two levels above the package)."""
    return Path(__file__).resolve().parents[3] / "resources" / "replay"


@dataclass(frozen=True)
class Instrument:
    """Contract rules of one USDT perpetual (strings keep the exchange's decimal notation)."""

    base: str
    quote: str
    tick_size: str
    qty_step: str
    min_qty: str
    max_qty: str
    max_market_qty: str
    min_notional: str
    max_leverage: str
    launch_time: int

    @property
    def bybit_symbol(self) -> str:
        return f"{self.base}{self.quote}"

    @property
    def bingx_symbol(self) -> str:
        return f"{self.base}-{self.quote}"


@dataclass
class SymbolSeries:
    """Recorded candles (original timestamps) and funding rates for one contract."""

    instrument: Instrument
    # float arrays (8 bytes a value; a list of floats takes 32): the series stay in memory as long as a Replay
    # connection runs
    opens: array[float]
    highs: array[float]
    lows: array[float]
    closes: array[float]
    volumes: array[float]
    first_ts: int
    funding: list[tuple[int, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.opens)

    def vertices(self, k: int) -> tuple[float, float, float, float]:
        """The four path points of candle ``k`` in walking order."""
        o, h, lo, c = self.opens[k], self.highs[k], self.lows[k], self.closes[k]
        return (o, lo, h, c) if c >= o else (o, h, lo, c)

    def funding_rate_at(self, original_ts: int) -> float:
        """The recorded rate of the settlement at or just before ``original_ts`` (0 when none is recorded)."""
        if not self.funding:
            return 0.0
        stamps = [ts for ts, _ in self.funding]
        i = bisect_right(stamps, original_ts) - 1
        return self.funding[max(i, 0)][1]


def _read_gz_csv(path: Path) -> Iterator[list[str]]:
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        yield from reader


def load_dataset(folder: Path | None = None) -> dict[str, SymbolSeries]:
    """Load every ``<SYMBOL>_5m.csv.gz`` that has an instrument entry; keyed by base asset ("BTC").

    Parsed once per folder and shared (the series are never mutated): simulators start fast in tests.
    """
    return dict(_load_dataset(str((folder or default_replay_dir()).resolve())))


@functools.lru_cache(maxsize=4)
def _load_dataset(folder_name: str) -> dict[str, SymbolSeries]:
    folder = Path(folder_name)
    spec = json.loads((folder / "instruments.json").read_text())
    result: dict[str, SymbolSeries] = {}
    for raw in spec["instruments"]:
        inst = Instrument(**raw)
        candles = folder / f"{inst.bybit_symbol}_5m.csv.gz"
        if not candles.exists():
            continue
        rows = list(_read_gz_csv(candles))
        series = SymbolSeries(
            instrument=inst,
            opens=array("d", (float(r[1]) for r in rows)),
            highs=array("d", (float(r[2]) for r in rows)),
            lows=array("d", (float(r[3]) for r in rows)),
            closes=array("d", (float(r[4]) for r in rows)),
            volumes=array("d", (float(r[5]) for r in rows)),
            first_ts=int(rows[0][0]),
        )
        funding = folder / f"{inst.bybit_symbol}_funding.csv.gz"
        if funding.exists():
            series.funding = [(int(r[0]), float(r[1])) for r in _read_gz_csv(funding)]
        result[inst.base] = series
    if not result:
        raise FileNotFoundError(f"no replay candles found in {folder}")
    return result


class ReplayClock:
    """Maps exchange time (the wall clock shifted by ``offset_ms``, what timestamps show) to replay time (where the
    path is). ``offset_ms`` puts the venue's clock ahead (> 0) or behind (< 0) this computer's, as a real exchange's
    clock is to a client whose clock is off; it may change while running (``SimulatorServer.set_clock_offset``).

    Before the replay start the map is the identity (history is served as recorded, shifted). From the start it
    is piecewise linear: ``speed`` replay ms per wall ms (1 = real time, N = accelerated, 0 = frozen), and a
    :meth:`step` jumps replay time ahead without moving the wall clock. Exchange timestamps therefore never run
    ahead of the client's clock (ccxt filters by its own "now"), while the price path can move at any pace.
    """

    def __init__(self, start_ms: int, speed: float = 1.0, offset_ms: int = 0) -> None:
        self._segments: list[tuple[int, float, float]] = [(start_ms, float(start_ms), speed)]
        self.offset_ms = offset_ms

    @staticmethod
    def wall() -> int:
        """This computer's clock (ms)."""
        return int(time.time() * 1000)

    def now(self) -> int:
        """The exchange's clock (ms): what its server time, timestamps and receive-window check use."""
        return self.wall() + self.offset_ms

    @property
    def speed(self) -> float:
        return self._segments[-1][2]

    def replay_at(self, wall_ms: int) -> int:
        if wall_ms < self._segments[0][0]:
            return wall_ms
        seg = self._segments[-1]
        for candidate in reversed(self._segments):
            if candidate[0] <= wall_ms:
                seg = candidate
                break
        return int(seg[1] + (wall_ms - seg[0]) * seg[2])

    def _restart(self, replay_ms: float, speed: float) -> None:
        t = max(self.now(), self._segments[-1][0])
        if self._segments[-1][0] == t and len(self._segments) > 1:
            self._segments.pop()
        self._segments.append((t, replay_ms, speed))

    def step(self, ms: int) -> None:
        t = max(self.now(), self._segments[-1][0])
        self._restart(self.replay_at(t) + ms, self.speed)

    def set_speed(self, speed: float) -> None:
        t = max(self.now(), self._segments[-1][0])
        self._restart(self.replay_at(t), speed)


@dataclass(frozen=True)
class Bar:
    """An OHLCV bar derived from the path (timestamps in market time)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class PricePath:
    """Maps market time to prices for every symbol of the dataset.

    ``history_candles`` recorded candles lie before the replay start, so klines and 24 h statistics are
    available from the first second. The path loops back to the start if the market clock outruns the data.
    """

    def __init__(self, series: dict[str, SymbolSeries], start_wall_ms: int, history_candles: int) -> None:
        self.series = series
        length = min(len(s) for s in series.values())
        self.length = length
        self.history_candles = min(history_candles, length - 1)
        aligned = start_wall_ms - start_wall_ms % CANDLE_MS
        self.origin_ms = aligned - self.history_candles * CANDLE_MS
        self.start_ms = aligned

    def _index(self, market_ms: int) -> tuple[int, float]:
        offset = market_ms - self.origin_ms
        k, rem = divmod(offset, CANDLE_MS)
        return int(k) % self.length, rem / CANDLE_MS

    def price(self, base: str, market_ms: int) -> float:
        k, frac = self._index(market_ms)
        v = self.series[base].vertices(k)
        pos = frac * 3
        seg = min(int(pos), 2)
        t = pos - seg
        return v[seg] + (v[seg + 1] - v[seg]) * t

    def points_between(self, base: str, t0: int, t1: int) -> list[float]:
        """Prices at every path vertex strictly inside (t0, t1], then the price at t1: the walk of a step."""
        out: list[float] = []
        third = CANDLE_MS / 3
        # vertex times are origin + k*CANDLE + j*third, j in 0..2
        first = int((t0 - self.origin_ms) // third) + 1
        last = int((t1 - self.origin_ms) // third)
        for n in range(first, last + 1):
            vt = self.origin_ms + n * third
            if t0 < vt <= t1:
                out.append(self.price(base, round(vt)))
            if len(out) > 100_000:
                break
        out.append(self.price(base, t1))
        return out

    def bar(self, base: str, t0: int, t1: int) -> Bar:
        """OHLCV of the path over [t0, t1); volume prorated from the recorded candles."""
        pts = [self.price(base, t0), *self.points_between(base, t0, max(t0, t1 - 1))]
        s = self.series[base]
        volume = 0.0
        cursor = t0
        while cursor < t1:
            k, frac = self._index(cursor)
            candle_end = cursor + int((1 - frac) * CANDLE_MS)
            seg_end = min(t1, max(candle_end, cursor + 1))
            volume += s.volumes[k] * (seg_end - cursor) / CANDLE_MS
            cursor = seg_end
        return Bar(t0, pts[0], max(pts), min(pts), pts[-1], volume)

    def original_ts(self, market_ms: int) -> int:
        """The recorded timestamp the market time corresponds to (for funding-rate look-up)."""
        k, frac = self._index(market_ms)
        first = next(iter(self.series.values())).first_ts
        return first + k * CANDLE_MS + int(frac * CANDLE_MS)
