"""The C allocator's settings for a long-running lavad process (glibc).

glibc serves large allocations (128 KiB and more) with their own memory maps,
given back at ``free``.  By default it then raises that threshold to the size of
the largest block freed so far (up to 32 MiB) and its heap-trimming threshold to
twice that: after one 3 MiB answer (the XML-RPC YAML of a 10,000-case job) every
later block below 3 MiB comes from the heap, which is no longer trimmed, and the
server stays a few MiB larger for good.  Setting the threshold explicitly turns
that adjustment off (mallopt(3), ``M_MMAP_THRESHOLD``).
"""

from __future__ import annotations

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's initial threshold, kept fixed.
MMAP_THRESHOLD = 128 * 1024


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where that cannot be
    done (another C library, no ctypes)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
