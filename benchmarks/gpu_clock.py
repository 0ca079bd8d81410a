"""The GPU's SM clock and board power while a timed region runs, sampled by ``nvidia-smi`` in the background.

On an H200 the sustained FP8 forwards of the Turbo rows reach the 700 W power cap and the SM clock falls
from 1,980 MHz to ~1,800 (benchmarks/runs/h200-2026-12-03b), while a short burst of forwards after an idle
moment runs at full clock: the same code then times 1-2% apart. A timed region sampled with
``ClockSampler`` carries its median clock and power, so tables say at which clock they were measured.

    with ClockSampler(device) as clocks:
        ...timed work...
    clocks.summary  # {"sm_mhz": median, "sm_mhz_min", "power_w": median, "power_capped": share} or None

A kernel timed in a short burst runs at full clock; timed for a few seconds it settles at the cap. On an H200
the sm_90 Sage kernel took 15.45 ms a 14B-720p layer in a burst and 15.85 ms sustained (1,815 MHz), 0.830
against 0.911 ms at 1.3B-480p (benchmarks/runs/h200-2026-12-04): ``sustained_ms`` times the second kind.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence

import torch

# The benchmarks wait for the GPU with the pipeline's own helper (a no-op on the CPU); re-exported as ``sync``.
from turbodiffusion.pipelines.denoise import synchronize as sync

QUERY = "clocks.sm,power.draw,clocks_throttle_reasons.active"
SW_POWER_CAP = 0x4  # clocks_throttle_reasons bit: the clock is held down by the software power cap
INTERVAL_MS = 50


def summarize_samples(lines: Iterable[str]) -> dict | None:
    """Median / minimum SM clock (MHz), median power (W) and the share of samples held by the power cap,
    from ``nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`` lines ("1800, 612.3, 0x4").
    Lines that do not parse (a header, "[N/A]", a cut last line) are skipped; None when none parse."""
    clocks, powers, capped = [], [], []
    for line in lines:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            clock, power, reasons = float(parts[0]), float(parts[1]), int(parts[2], 16)
        except ValueError:
            continue
        clocks.append(clock)
        powers.append(power)
        capped.append(bool(reasons & SW_POWER_CAP))
    if not clocks:
        return None
    return {
        "sm_mhz": statistics.median(clocks),
        "sm_mhz_min": min(clocks),
        "power_w": statistics.median(powers),
        "power_capped": sum(capped) / len(capped),
        "samples": len(clocks),
    }


def smi_command(device: torch.device) -> list[str] | None:
    """The sampling command for ``device`` (its UUID when torch reports one), or None without nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if smi is None or device.type != "cuda":
        return None
    cmd = [smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits", f"--loop-ms={INTERVAL_MS}"]
    # nvidia-smi numbers GPUs its own way (PCI order, all of them); the UUID names this one regardless.
    uuid = str(getattr(torch.cuda.get_device_properties(device), "uuid", ""))
    if uuid:
        cmd.append(f"--id={uuid if uuid.startswith('GPU-') else 'GPU-' + uuid}")
    return cmd


class ClockSampler(contextlib.AbstractContextManager):
    """Sample the clock while the block runs; ``summary`` afterwards (None where nothing could be sampled:
    no GPU, no nvidia-smi, or a block shorter than the first sample). ``command`` overrides the sampling
    command (tests)."""

    def __init__(self, device: torch.device, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else smi_command(device)
        self.summary: dict | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> ClockSampler:
        if self.command is not None:
            try:
                self._proc = subprocess.Popen(
                    self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
                )
            except OSError:  # a sampler that cannot start must not stop the benchmark
                self._proc = None
        return self

    def __exit__(self, *exc) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            out, _ = self._proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, _ = self._proc.communicate()
        self.summary = summarize_samples(out.splitlines())


def sustained_ms(
    fn: Callable[[], object],
    device: torch.device,
    seconds: float = 2.0,
    command: Sequence[str] | None = None,
) -> dict:
    """``fn`` called back to back for about ``seconds`` (one synchronisation every 8 calls on a GPU) with the
    clock sampled meanwhile (``command`` as in ClockSampler). Returns {"sustained_ms": wall ms a call,
    "sustained_calls", "sm_mhz", "power_w", "power_capped", "mcycles": sustained_ms x sm_mhz / 1,000: the
    call in millions of SM cycles}; the clock fields are None where nothing was sampled."""
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0 (got {seconds})")

    fn()  # compile, autotune and allocate outside the timed span
    sync(device)
    calls, start = 0, time.perf_counter()
    with ClockSampler(device, command) as clocks:
        while True:
            fn()
            calls += 1
            if calls % 8 == 0 or device.type != "cuda":
                sync(device)
                if time.perf_counter() - start >= seconds:
                    break
        elapsed = time.perf_counter() - start
    ms = elapsed * 1e3 / calls
    c = clocks.summary or {}
    mhz = c.get("sm_mhz")
    return {
        "sustained_ms": ms,
        "sustained_calls": calls,
        "sm_mhz": mhz,
        "power_w": c.get("power_w"),
        "power_capped": c.get("power_capped"),
        "mcycles": ms * mhz / 1e3 if mhz else None,
    }
