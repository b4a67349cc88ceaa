"""Reading HAProxy's `show servers state` answer."""

from __future__ import annotations

import pytest

from reelgate.gates.api import RouterError
from reelgate.plugins.haproxy import parse_servers_state

# As HAProxy 2.6 answers `show servers state be_app` (format 1): a version line, a header, then one row per server.
ANSWER = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change
3 be_app 1 blue 127.0.0.1 2 0 100 100 12 6 3 4 6 0 0 0 - 8401 - 0 0 - - 0
3 be_app 2 green 127.0.0.1 0 0 0 0 5 8 2 0 6 0 0 0 - 8402 - 0 0 - - 0
4 be_other 1 blue 127.0.0.1 2 0 1 1 5 8 2 0 6 0 0 0 - 9999 - 0 0 - - 0
"""


def test_rows_of_the_backend_become_server_states() -> None:
    state = parse_servers_state(ANSWER, "be_app")
    assert set(state) == {"blue", "green"}
    assert (state["blue"].operational, state["blue"].admin, state["blue"].weight) == (2, 0, 100)
    assert (state["green"].operational, state["green"].weight) == (0, 0)


def test_an_answer_without_the_backend_is_a_router_error() -> None:
    with pytest.raises(RouterError, match="no servers in backend be_missing: 1"):
        parse_servers_state(ANSWER, "be_missing")
    with pytest.raises(RouterError, match="Unknown command"):
        parse_servers_state("Unknown command.\n", "be_app")
