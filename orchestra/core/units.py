"""Human-friendly units used in the config file: durations ("30s") and rates ("1000/minute")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from `30`, `2.5`, `"500ms"`, `"30s"`, `"5m"` or `"1h"`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '500ms', '5m' or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; write it like '30s', '500ms', '5m', '1h' or a number of seconds"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(lambda s: f"{s:g}s")]
"""A duration in seconds, written in the config as `"30s"`, `"500ms"`, `"5m"`, `"1h"` or a number."""


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` events per `period` seconds; a token bucket refills at `count / period` per second."""

    count: int
    period: float

    @property
    def per_second(self) -> float:
        return self.count / self.period

    def __str__(self) -> str:
        name = next((n for n, s in _PERIODS.items() if s == self.period), f"{self.period:g}s")
        return f"{self.count}/{name}"


def parse_rate(value: Any) -> Rate:
    """A `Rate` from `"1000/minute"`, `"50/second"`, `"10/hour"` or `"5/day"`."""
    if isinstance(value, Rate):
        return value
    count, _, period = str(value).partition("/")
    count, period = count.strip(), period.strip().lower().removesuffix("s")
    if not count.isdigit() or period not in _PERIODS or int(count) == 0:
        raise ValueError(f"{value!r} is not a rate; write it like '1000/minute' (periods: second, minute, hour, day)")
    return Rate(int(count), _PERIODS[period])


RateLimit = Annotated[Rate, BeforeValidator(parse_rate), PlainSerializer(str)]
"""A rate written in the config as `"1000/minute"`."""


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_UNIT_BYTES = {None: 1, "B": 1, "KB": 1000, "KiB": 1024, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}


def parse_size(value: Any) -> int:
    """Bytes from `1048576`, `"512KiB"`, `"4MiB"` or `"1GB"`."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '4MiB', '512KiB' or a number of bytes")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; write it like '4MiB', '512KiB', '1GB' or a number of bytes")
        size = int(float(match.group(1)) * _UNIT_BYTES[match.group(2)])
    if size <= 0:
        raise ValueError("a size must be above zero")
    return size


ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""A size in bytes, written in the config as `"4MiB"`, `"512KiB"` or a number."""
