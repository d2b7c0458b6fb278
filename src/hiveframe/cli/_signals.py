"""Ctrl-C and SIGTERM: every command stops the same way on either, and always ends.

SIGTERM is how containers, systemd and CI stop a program, so it is handled like Ctrl-C
(SIGINT). The first of either raises :class:`Interrupted` (a ``KeyboardInterrupt``) in the
main thread: ``read`` and ``write`` stop their requests, ``stream`` stops reading its source,
delivers what it read and saves its checkpoint (for at most ``--shutdown-timeout`` seconds,
then it stops at once). The command exits with 128 + the signal's number, as shells report
it: 130 after Ctrl-C, 143 after SIGTERM.

Ending is bounded whatever happens. A second signal ends the process at once, and so does a
stop still running :data:`HARD_STOP_SECONDS` after its time is up (a request that ignores
cancellation, a thread stuck in a library, a lock an interrupted library never released).
Nothing acknowledged is lost then: a stream's checkpoint stays at the last batch its sink
acknowledged, and what came after it is read again by the next run.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["HARD_STOP_SECONDS", "Interrupted", "exit_code", "stop_on_signals"]

HARD_STOP_SECONDS = 5.0
"""How long a stop may overrun its time before the process exits at once."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The first SIGINT or SIGTERM a command received; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C (or a plain ``KeyboardInterrupt``), 143 for
    SIGTERM."""
    signum = interrupt.signum if isinstance(interrupt, Interrupted) else signal.SIGINT
    return 128 + signum


@contextmanager
def stop_on_signals(grace: float = 0.0) -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into :class:`Interrupted`; never hang after it.

    Parameters
    ----------
    grace
        Seconds the command may take to stop cleanly after the first signal (a stream's
        ``--shutdown-timeout``). The process exits at once after ``grace`` plus
        :data:`HARD_STOP_SECONDS`, or at a second signal, with 128 + that signal's number.

    Examples
    --------
    >>> with stop_on_signals():  # doctest: +SKIP
    ...     run_command()
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals; in another one, change nothing
        return
    received: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if received:
            _exit_now(signum, f"{signal.Signals(signum).name} again")
        received.append(signum)
        _exit_later(signum, grace + HARD_STOP_SECONDS)
        raise Interrupted(signum)

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield
    finally:
        if not received:  # after a signal the handler stays, so that a second one still ends
            for number, handler in previous.items():
                signal.signal(number, handler)


def _exit_later(signum: int, seconds: float) -> None:
    # A daemon thread: it ends with the process, and fires even while the interpreter waits
    # for other threads on its way out.
    name = signal.Signals(signum).name
    reason = f"still running {seconds:g}s after {name}"
    watchdog = threading.Timer(seconds, _exit_now, (signum, reason))
    watchdog.daemon = True
    watchdog.start()


def _exit_now(signum: int, reason: str) -> None:
    # os.write and os._exit: no lock, no buffer, no thread can hold this up (a full stdout
    # pipe, a stuck thread the interpreter would wait for at exit).
    os.write(2, f"\nhiveframe: {reason}: exiting now\n".encode())
    os._exit(128 + signum)
