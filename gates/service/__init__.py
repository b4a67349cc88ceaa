"""`reelgate gate serve`: the engine as a service that Argo Rollouts, Flagger and Kargo call (docs/gate-service.md).

- `runs`: what a controller asks for and is answered, and the runs table (made once per key, polled, expired);
- `tokens`: bearer tokens scoped to namespaces;
- `engine`: starting and judging a run apart from any request, and the sweeper;
- `app`: the HTTP routes for Argo, Kargo and `gate wait`; `flagger`: Flagger's webhooks;
- `metrics`: Prometheus metrics for runs and verdicts;
- the release dashboard (docs/dashboard.md): `dashboard` (sign-in, the releases table, its routes), `web` (what its
  pages share), `live` (pages kept live by server-sent events or polls), `release_page`, `actions`, `compare`,
  `run_page`, `accounts`.
"""

from reelgate.gates.service.app import create_app
from reelgate.gates.service.engine import GateService, ServiceOptions

__all__ = ["GateService", "ServiceOptions", "create_app"]
