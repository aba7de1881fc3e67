"""Progress of a long command on stderr: a redrawn line on a terminal, sparse plain lines elsewhere.

On a terminal the line is redrawn in place (`\\r`) at most ten times a second; in a pipe or a CI
log, where `\\r` would pile up as garbage, a plain line is written at most every `interval`
seconds, and a last one at the end if any was written. Time comes from an injected clock.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

# A terminal redrawn faster than this flickers and costs more than the work it reports.
REDRAW_EVERY = 0.1
BAR_WIDTH = 20


def format_count(n: int) -> str:
    return f"{n:,}"


def format_rate(per_second: float, unit: str) -> str:
    # Below 10 a decimal says something (a paced replay at 2.5 msgs/s); above, it is noise.
    if round(per_second, 1) < 10:
        return f"{per_second:.1f} {unit}/s"
    return f"{per_second:,.0f} {unit}/s"


def format_elapsed(seconds: float) -> str:
    """M:SS, or H:MM:SS from an hour on."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


class Progress:
    """Count of work done toward an optional total; use as a context manager.

    `total=None` shows a count and a rate without a bar or ETA. `total` may be raised or
    lowered while running (a recorder learns the true end of a partition late).
    """

    def __init__(
        self,
        total: int | None,
        unit: str = "msgs",
        label: str = "",
        stream: TextIO | None = None,
        *,
        interval: float = 10.0,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        self.total = total
        self.unit = unit
        self.label = label
        self.count = 0
        # Resolved here, not as a default argument: tests and callers may swap sys.stderr.
        self._stream = sys.stderr if stream is None else stream
        self._interval = interval
        self._quiet = quiet
        self._clock = clock
        self._tty = _is_tty(self._stream) if tty is None else tty
        self._started = clock()
        # A terminal shows the line at once; a log gets its first line after one interval.
        self._last_draw = float("-inf") if self._tty else self._started
        self._lines = 0
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def advance(self, n: int = 1) -> None:
        self.count += n
        self.refresh()

    def refresh(self) -> None:
        """Redraw if it is time to; callers waiting a long time call it to keep elapsed live."""
        if self._quiet or self._closed:
            return
        now = self._clock()
        wait = REDRAW_EVERY if self._tty else self._interval
        if now - self._last_draw >= wait:
            self._draw(now)

    def close(self) -> None:
        if self._closed:
            return
        if not self._quiet and (self._tty or self._lines):
            self._draw(self._clock(), final=True)
        self._closed = True

    def line(self, now: float | None = None) -> str:
        """The progress line as it would be drawn at `now` (default: the clock's time).

        Terminal: `label  25%|#####               | 250/1,000 msgs [0:10<0:30, 25 msgs/s]`
        (elapsed<left); log: `label: 25% 250/1,000 msgs, 25 msgs/s, elapsed 0:10, ETA 0:30`.
        """
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 0.0)
        rate = self.count / elapsed if elapsed > 0 else 0.0
        total = self.total
        if total is not None and total > 0:
            done = min(self.count / total, 1.0)
            counted = f"{format_count(self.count)}/{format_count(total)} {self.unit}"
            if self._tty:
                filled = int(done * BAR_WIDTH)
                body = f"{done:4.0%}|{'#' * filled}{' ' * (BAR_WIDTH - filled)}| {counted}"
            else:
                body = f"{done:.0%} {counted}"
        else:
            body = f"{format_count(self.count)} {self.unit}"
        left = None
        if total is not None and 0 < self.count < total and rate > 0:
            left = format_elapsed((total - self.count) / rate)
        if self._tty:
            head = f"{self.label} " if self.label else ""
            times = format_elapsed(elapsed) + ("" if left is None else f"<{left}")
            return f"{head}{body} [{times}, {format_rate(rate, self.unit)}]"
        head = f"{self.label}: " if self.label else ""
        tail = "" if left is None else f", ETA {left}"
        return (
            f"{head}{body}, {format_rate(rate, self.unit)}, elapsed {format_elapsed(elapsed)}{tail}"
        )

    def _draw(self, now: float, final: bool = False) -> None:
        self._last_draw = now
        text = self.line(now)
        if self._tty:
            # Longer than the terminal, the line would wrap and `\r` would redraw only its tail.
            text = "\r" + text[: _columns(self._stream) - 1] + "\x1b[K" + ("\n" if final else "")
        else:
            text += "\n"
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            # stderr closed or gone (a pipe whose reader quit): the work matters more than the
            # report of it, so stop reporting rather than fail the command.
            self._quiet = True
            return
        self._lines += 1
