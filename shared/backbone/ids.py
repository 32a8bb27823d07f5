"""Time-ordered, prefixed ids ("ord_0190f3c2a1b4_9f2c4d1e"): sortable, so cursors can page by id."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"
