"""RecentRate: the rate of the last few minutes, not of the whole session."""

import pytest

from redcli.rate import RecentRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_rate_before_time_passes() -> None:
    clock = FakeClock()
    rate = RecentRate(0, window_s=60, clock=clock)
    assert rate.update(0) == 0.0


def test_before_the_window_fills_it_is_the_mean_since_the_start() -> None:
    clock = FakeClock()
    rate = RecentRate(100, window_s=60, clock=clock)
    clock.now += 10
    assert rate.update(120) == pytest.approx(2.0)
    clock.now += 10
    assert rate.update(160) == pytest.approx(3.0)  # (160 - 100) / 20


def test_a_slow_start_is_forgotten_once_the_window_has_passed() -> None:
    """1 step/s for 10 minutes (a benchmark beside the run), then 10 steps/s: the session mean is only
    4 steps/s five minutes later; the recent rate is the new pace."""
    clock = FakeClock()
    rate = RecentRate(0, window_s=60, clock=clock)
    steps = 0
    for _ in range(60):  # a report every 10 s
        clock.now += 10
        steps += 10
        slow = rate.update(steps)
    assert slow == pytest.approx(1.0)
    for _ in range(30):
        clock.now += 10
        steps += 100
        fast = rate.update(steps)
    assert steps / 900 == pytest.approx(4.0)  # what a session mean would report
    assert fast == pytest.approx(10.0)


def test_the_window_is_never_shorter_than_asked() -> None:
    """Irregular reports: the rate is measured from the newest sample at least window_s old, so a burst
    of reports (log, validation, checkpoint at one step) does not shrink the window to nothing."""
    clock = FakeClock()
    rate = RecentRate(0, window_s=60, clock=clock)
    clock.now += 50
    rate.update(50)
    clock.now += 20  # 70 s: the sample at 0 s is the newest one at least 60 s old
    rate.update(250)
    for _ in range(3):  # several events at one step, no time between them
        assert rate.update(250) == pytest.approx(250 / 70)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RecentRate(0, window_s=0)
