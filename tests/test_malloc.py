"""lavad.malloc: glibc's mmap threshold stays fixed, so large blocks go back to the system."""

from __future__ import annotations

import subprocess
import sys

from lavad import tap

SCRIPT = r"""
import ctypes, sys
from lavad.malloc import fix_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
big = bytearray(8 << 20)   # a large answer, mapped on its own ...
del big                    # ... and given back
kept = [bytearray(1 << 20) for _ in range(6)]
print(libc.mallinfo2().hblkhd)
"""


def mapped_after_a_big_free(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                         text=True, check=True, timeout=60)
    return int(out.stdout)


def test_fixed_threshold_keeps_large_blocks_mapped():
    """After an 8 MiB block is freed, 1 MiB blocks are still mapped on their own (and
    returned at free) when the threshold is fixed; glibc's default puts them on the heap."""
    assert mapped_after_a_big_free("fixed") >= 6 << 20
    assert mapped_after_a_big_free("default") < 6 << 20


def test_make_service_fixes_the_threshold(tmp_path, monkeypatch):
    """twistd's makeService sets the allocator up before building the service."""
    calls = []
    monkeypatch.setattr(tap, "fix_mmap_threshold", lambda: calls.append(1) or True)
    options = tap.Options()
    options.parseOptions(["--data-dir", str(tmp_path / "d"), "--http", "tcp:0"])
    tap.makeService(options)
    assert calls == [1]
