"""Rates over time, as a provider sees them: the busiest 1-second window and the mean.

Each event may weigh more than one (an SMS of two segments counts two against a rate
that counts segments).
"""

from collections.abc import Sequence


def busiest_window(
    times: Sequence[float], weights: Sequence[float] | None = None, width: float = 1.0
) -> float:
    """The most weight inside any window of `width` seconds (events less than `width`
    apart share a window), over events at `times` in any order; 0 for none."""
    if weights is None:
        weights = [1.0] * len(times)
    if len(weights) != len(times):
        raise ValueError("one weight per time")
    events = sorted(zip(times, weights, strict=True))
    most = inside = 0.0
    start = 0
    for moment, weight in events:
        inside += weight
        while moment - events[start][0] >= width:
            inside -= events[start][1]
            start += 1
        most = max(most, inside)
    return most


def mean_rate(times: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Weight per second from the first event to the last: what came after the first
    instant over the time it took (n - 1 events over the span, unweighted); 0 when the
    events span no time."""
    if weights is None:
        weights = [1.0] * len(times)
    events = sorted(zip(times, weights, strict=True))
    if len(events) < 2 or events[-1][0] <= events[0][0]:
        return 0.0
    after_first = sum(weight for _, weight in events[1:])
    return after_first / (events[-1][0] - events[0][0])
