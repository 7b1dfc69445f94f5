"""AWS's timestamp format: ``2019-10-01T16:47:28.490+0000``."""

from __future__ import annotations

import time


def aws_time(ns: int) -> str:
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem // 1_000_000:03d}+0000"
