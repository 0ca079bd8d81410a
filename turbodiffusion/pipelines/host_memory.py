"""Keep freed host memory for reuse: glibc malloc settings for a process that generates on the CPU.

A denoising step allocates and frees the same large temporaries every time (SLA's gathered key blocks,
21 MB a layer at the default model's size; the VAE's activations). By default glibc hands each freed block
above its mmap threshold back to the OS and trims the heap's free top above its trim threshold, so every
step page-faults and zero-fills those megabytes again. Fixing the mmap threshold at its 64-bit maximum
(32 MiB: blocks up to that size stay on the heap) and raising the trim threshold to 1 GiB (the heap keeps
its freed top) took the default model's four CPU steps and decode from 1.49 to 1.35 s and from 1.61 to
1.25 s (medians of 7, two runs) on a 2-core CPU, peak RSS unchanged (benchmarks/runs/cpu-2026-12-05).

It changes the whole process's allocator, so it is the application's call: ``turbodiffusion generate``
makes it; a Python program using ``TurboPipeline`` on the CPU can call ``keep_freed_host_memory()`` once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

# mallopt's parameter numbers (glibc malloc.h) and the values set.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's ceiling on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


@functools.cache
def keep_freed_host_memory() -> bool:
    """Set glibc's mmap and trim thresholds as the module docstring says, once per process.

    Returns True when both were set; False on other C libraries (macOS, Windows, musl), where nothing
    changes. Never raises.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
