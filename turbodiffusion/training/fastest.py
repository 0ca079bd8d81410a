"""Pick the fastest of several equivalent ways to run a training step, by timing real steps.

Some choices change how a step's work is batched but not its result (the VAE's chunk length, for one), and
which is faster depends on the machine: kernel-launch-bound on a GPU, memory-bound on a CPU. Rather than
guess, or spend a separate benchmark run, the first steps of training try each option in turn and the
rest of the run keeps the winner. Those trial steps are ordinary training steps: nothing is wasted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class FastestOption(Generic[T]):
    """Options tried in order for ``warmup + timed`` steps each (the warm-up steps let autotuners and caches
    settle and are not timed), then the one with the least total timed seconds for the rest.

    Use: ``option = picker.current()`` before a step, ``picker.done(seconds)`` after it with the step's
    wall-clock time (synchronise the device first, or the time measures only the launch). With one option
    there is nothing to try and it is chosen at once.
    """

    def __init__(self, options: Sequence[T], *, warmup: int = 2, timed: int = 3) -> None:
        if not options:
            raise ValueError("FastestOption needs at least one option")
        if warmup < 0 or timed < 1:
            raise ValueError(f"warmup must be >= 0 and timed >= 1 (got {warmup}, {timed})")
        self.options = list(options)
        self.warmup, self.timed = warmup, timed
        self.seconds = [0.0] * len(self.options)
        self._steps = 0
        self.chosen: T | None = self.options[0] if len(self.options) == 1 else None

    @property
    def trying(self) -> bool:
        """True while the current step is one of the trial steps."""
        return self.chosen is None

    def current(self) -> T:
        if self.chosen is not None:
            return self.chosen
        return self.options[self._steps // (self.warmup + self.timed)]

    def done(self, seconds: float) -> None:
        """Report the wall-clock seconds of the step just run with ``current()``."""
        if self.chosen is not None:
            return
        index, within = divmod(self._steps, self.warmup + self.timed)
        if within >= self.warmup:
            self.seconds[index] += seconds
        self._steps += 1
        if self._steps == len(self.options) * (self.warmup + self.timed):
            best = min(range(len(self.options)), key=self.seconds.__getitem__)
            self.chosen = self.options[best]

    def summary(self) -> dict:
        """{"chosen": option or None, "timed_seconds": {str(option): seconds of its timed steps}}."""
        return {
            "chosen": self.chosen,
            "timed_seconds": {str(o): round(s, 4) for o, s in zip(self.options, self.seconds)},
        }


def timed(step: Callable[[], T], synchronize: Callable[[], None] | None = None) -> tuple[T, float]:
    """(step(), its wall-clock seconds), with ``synchronize`` (e.g. torch.cuda.synchronize) called before
    the clock starts and before it stops so queued device work is counted where it belongs."""
    if synchronize is not None:
        synchronize()
    start = time.perf_counter()
    result = step()
    if synchronize is not None:
        synchronize()
    return result, time.perf_counter() - start
