"""Training metrics: one JSON object per line in ``log.jsonl``, mirrored to TensorBoard when installed.

Only rank 0 writes. Each record holds the step, the losses, the learning rate(s), tokens/s and the
wall time of the step; ``read_jsonl`` reads a log back (tests and plotting).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


class MetricsLogger:
    """Append-only JSONL log (flushed per record, so a killed run keeps every logged step)."""

    def __init__(self, out_dir: str | os.PathLike, *, enabled: bool = True, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self._file = None
        self._tb = None
        if not enabled:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._file = open(out / "log.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                logger.info("tensorboard is not installed; logging to log.jsonl only")
            else:
                self._tb = SummaryWriter(str(out / "tensorboard"))

    def log(self, record: dict[str, float | int]) -> None:
        if not self.enabled:
            return
        assert self._file is not None
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in record.items():
                if key != "step":
                    self._tb.add_scalar(key, value, int(record["step"]))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Every record of a ``log.jsonl``, in order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["MetricsLogger", "read_jsonl"]
