"""The local stack: PostgreSQL, Valkey/Redis, the live color's API and worker, and the router.

Every process runs under one supervisord (a real process supervisor that
restarts what dies). Its config, PIDs, sockets and logs live under `var/`.
`up` and `down` are idempotent; `down` stops exactly what `up` started,
because supervisord is the parent of all of it.

One module per job: `paths` (where things live), `configs` (the generated
files), `supervisor` (its XML-RPC), `ports`, `postgres` (first start) and
`lifecycle` (the commands).
"""

from reelgate.platform.stack.configs import write_router_config
from reelgate.platform.stack.lifecycle import PartStatus, down, start_color, status, stop_color, up
from reelgate.platform.stack.paths import COLORS, StackError, live_color
from reelgate.platform.stack.supervisor import process_info, start_part, stop_part

__all__ = [
    "COLORS",
    "PartStatus",
    "StackError",
    "down",
    "live_color",
    "process_info",
    "start_color",
    "start_part",
    "status",
    "stop_color",
    "stop_part",
    "up",
    "write_router_config",
]
