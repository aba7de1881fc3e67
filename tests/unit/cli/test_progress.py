"""The progress reporter: redraw throttling on a terminal, sparse lines in logs, on a fake clock."""

from __future__ import annotations

import io

import pytest

from ioc.cli.progress import Progress, format_count, format_elapsed, format_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_formats() -> None:
    assert format_count(1234567) == "1,234,567"
    assert format_rate(2.5, "msgs") == "2.5 msgs/s"
    assert format_rate(12345.6, "readings") == "12,346 readings/s"
    assert format_elapsed(0) == "0:00"
    assert format_elapsed(75.9) == "1:15"
    assert format_elapsed(3 * 3600 + 62) == "3:01:02"


def test_terminal_line_has_bar_count_rate_elapsed_and_eta() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(1000, unit="msgs", label="replay", stream=out, clock=clock, tty=True)
    clock.now += 10
    progress.advance(250)
    # 10 s elapsed, 30 s left (750 at 25/s); redrawn in place, and erasing the longer past line.
    expected = "replay  25%|#####               | 250/1,000 msgs [0:10<0:30, 25 msgs/s]"
    assert out.getvalue() == "\r" + expected + "\x1b[K"
    assert len(expected) < 80


def test_terminal_redraws_at_most_ten_times_a_second() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(None, stream=out, clock=clock, tty=True)
    for _ in range(1024):  # one second of 1 kHz advances (a step exact in binary)
        clock.now += 1 / 1024
        progress.advance()
    assert 10 <= out.getvalue().count("\r") <= 11
    progress.close()
    assert out.getvalue().endswith("\r1,024 msgs [0:01, 1,024 msgs/s]\x1b[K\n")


def test_log_gets_a_line_per_interval_and_a_last_one() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress(100, unit="readings", stream=out, clock=clock, tty=False, interval=10) as p:
        for _ in range(100):
            clock.now += 0.25  # 25 s in all
            p.advance()
    lines = out.getvalue().splitlines()
    # At 10 s and 20 s, then the final state; no carriage returns or escapes in a log.
    assert len(lines) == 3
    assert lines[0] == "40% 40/100 readings, 4.0 readings/s, elapsed 0:10, ETA 0:15"
    assert lines[-1] == "100% 100/100 readings, 4.0 readings/s, elapsed 0:25"
    assert "\r" not in out.getvalue()
    assert "\x1b" not in out.getvalue()


def test_a_short_run_writes_nothing_to_a_log() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress(10, stream=out, clock=clock, tty=False) as p:
        clock.now += 2
        p.advance(10)
    assert out.getvalue() == ""


def test_quiet_writes_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress(10, stream=out, clock=clock, tty=True, quiet=True) as p:
        clock.now += 60
        p.advance(5)
    assert out.getvalue() == ""
    assert p.count == 5


def test_total_may_change_and_count_beyond_it_stays_at_100_percent() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10, stream=out, clock=clock, tty=True)
    progress.total = 20
    clock.now += 1
    progress.advance(30)
    assert out.getvalue() == "\r100%|" + "#" * 20 + "| 30/20 msgs [0:01, 30 msgs/s]\x1b[K"


def test_refresh_keeps_elapsed_moving_while_nothing_advances() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10, stream=out, clock=clock, tty=True)
    progress.advance()
    clock.now += 65
    progress.refresh()
    assert out.getvalue().endswith(
        "\r 10%|##                  | 1/10 msgs [1:05<9:45, 0.0 msgs/s]\x1b[K"
    )


def test_a_line_longer_than_the_terminal_is_cut() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(None, label="x" * 200, stream=out, clock=clock, tty=True)
    progress.advance()
    drawn = out.getvalue()
    assert len(drawn.removeprefix("\r").removesuffix("\x1b[K")) == 79  # StringIO: 80 columns


def test_a_closed_stream_silences_it_instead_of_failing() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10, stream=out, clock=clock, tty=True)
    out.close()
    progress.advance()
    progress.close()
    assert progress.count == 1


@pytest.mark.parametrize("tty", [True, False])
def test_close_is_idempotent(tty: bool) -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10, stream=out, clock=clock, tty=tty, interval=1)
    clock.now += 2
    progress.advance()
    progress.close()
    once = out.getvalue()
    progress.close()
    progress.advance()
    assert out.getvalue() == once
