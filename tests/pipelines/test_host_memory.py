"""keep_freed_host_memory: glibc keeps freed blocks up to 32 MiB on its heap instead of handing them back."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from turbodiffusion.pipelines import host_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A fresh interpreter: how many bytes of a 20 MiB tensor glibc serves by mmap (mallinfo2's hblkhd), after
# the tuning or without it.
MMAPPED = """
import ctypes, sys, torch
from turbodiffusion.pipelines.host_memory import keep_freed_host_memory
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
applied = keep_freed_host_memory() if sys.argv[1] == "tuned" else None
before = libc.mallinfo2().hblkhd
block = torch.empty(20 * 2**20, dtype=torch.uint8)
print(applied, libc.mallinfo2().hblkhd - before)
"""


def mmapped_bytes(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", MMAPPED, mode], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc (mallopt, mallinfo2) only")
def test_a_20_mib_block_comes_from_the_heap_once_tuned():
    applied, tuned = mmapped_bytes("tuned")
    assert applied == "True" and tuned == 0
    _, plain = mmapped_bytes("plain")
    assert plain >= 20 * 2**20  # glibc's default: such a block is mapped, and unmapped when freed


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    host_memory.keep_freed_host_memory.cache_clear()
    try:
        assert host_memory.keep_freed_host_memory() is False
    finally:
        host_memory.keep_freed_host_memory.cache_clear()
