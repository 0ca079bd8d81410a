"""Counting the host's waits for the GPU: torch.cuda.set_sync_debug_mode("warn") makes every synchronising
call (.item(), .cpu(), nonzero, a blocking copy, an explicit synchronize) emit a warning, which this records
and counts instead of printing. Used by tests and by benchmarks/e2e.py's loops."""

from __future__ import annotations

import contextlib
import warnings

import torch

# The mode's once-a-process notice ("Synchronization debug mode is a prototype feature ...") is not a sync.
_PROTOTYPE_NOTICE = "prototype feature"


def is_sync_warning(message: str) -> bool:
    """Whether a warning's text reports a synchronising CUDA call."""
    return "synchroniz" in message.lower() and _PROTOTYPE_NOTICE not in message


class count_host_syncs(contextlib.AbstractContextManager):  # noqa: N801 (used like a function)
    """Count the synchronising calls torch reports inside the block in ``.count`` (CUDA only: None on
    other devices, where there is nothing to wait for)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.count: int | None = 0 if device.type == "cuda" else None
        self._caught: contextlib.AbstractContextManager | None = None
        self._log: list | None = None

    def __enter__(self) -> count_host_syncs:
        if self.device.type == "cuda":
            self._caught = warnings.catch_warnings(record=True)
            self._log = self._caught.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
        return self

    def __exit__(self, *exc) -> None:
        if self._caught is not None:
            torch.cuda.set_sync_debug_mode("default")
            self._caught.__exit__(*exc)
            self.count = sum(is_sync_warning(str(w.message)) for w in self._log)
            self._caught = None
