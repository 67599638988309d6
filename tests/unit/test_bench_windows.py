"""Busiest window and mean rate (bench/windows.py), as the rate-limit bench reads them."""

import pytest
from bench.windows import busiest_window, mean_rate


def test_events_less_than_a_second_apart_share_a_window():
    assert busiest_window([0.0, 0.5, 0.999, 1.0, 1.5]) == 3  # 0.0-0.999, or 0.5-1.5
    assert busiest_window([0.0, 1.0, 2.0]) == 1


def test_the_order_of_the_times_does_not_matter():
    assert busiest_window([1.5, 0.0, 1.0, 0.999, 0.5]) == 3


def test_weights_count_instead_of_events():
    # Two 2-segment messages within the second beat three 1-segment ones spread over two.
    assert busiest_window([0.0, 0.2, 1.5, 2.0, 2.4], [2, 2, 1, 1, 1]) == 4
    assert busiest_window([0.0, 0.2, 1.5, 2.0, 2.4], [1, 1, 1, 1, 1]) == 3


def test_a_narrower_window():
    assert busiest_window([0.0, 0.1, 0.2, 0.3], width=0.25) == 3


def test_no_events_and_mismatched_weights():
    assert busiest_window([]) == 0
    with pytest.raises(ValueError, match="one weight"):
        busiest_window([0.0, 1.0], [1])


def test_the_mean_counts_what_came_after_the_first_event():
    assert mean_rate([0.0, 0.5, 1.0, 1.5, 2.0]) == pytest.approx(2.0)
    assert mean_rate([2.0, 0.0, 1.0], [1, 5, 3]) == pytest.approx(2.0)  # (3 + 1) over 2 s
    assert mean_rate([1.0]) == 0.0
    assert mean_rate([1.0, 1.0]) == 0.0
