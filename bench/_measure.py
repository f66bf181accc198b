"""Measuring helpers shared by the bench/ scripts: a wall + CPU clock and the peak RSS."""
from __future__ import annotations

import resource
import time
from pathlib import Path


class Clock:
    """Wall seconds and CPU seconds (this process's threads plus reaped children, e.g. a data
    loader's workers). CPU time is what other jobs on a shared machine do not inflate."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu():
        own, kids = (resource.getrusage(resource.RUSAGE_SELF),
                     resource.getrusage(resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, self._cpu() - self.cpu


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM (Linux) is the high-water mark of this process's own
    address space; ru_maxrss is not used where VmHWM exists because Linux carries it over
    execve, so a worker would inherit its (v)forking parent's RSS."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
