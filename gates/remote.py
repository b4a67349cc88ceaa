"""Which gates can judge a remote candidate (one not on this machine's loopback), from what each gate type
`needs` (`reelgate.gates.api.GateType`): a gate that acts on the candidate's local processes cannot, and a
scanner acts only on the hosts its policy allows. The runner refuses such a gate with an `error` naming why;
`reelgate policy check --target remote` says it before any release starts."""

from __future__ import annotations

from typing import Any

from reelgate.gates.api import host_refusal, is_loopback, needs

REMOTE = "remote"
"""`policy check --target remote`: some host that is not this machine, not yet named."""


def refusal(gate_type: type[Any], config: Any, target: str) -> str | None:
    """Why a gate of `gate_type` with `config` cannot act on `target` (a URL, or REMOTE), or None."""
    if target != REMOTE and is_loopback(target):
        return None
    if "local_processes" in needs(gate_type):
        return "it acts on the candidate's processes on this machine, and a remote candidate's are elsewhere"
    allowed = getattr(config, "allowed_hosts", None)
    if allowed is not None:
        if target == REMOTE and not allowed:
            return "it acts only on loopback and the policy's `allowed_hosts`, and the policy lists none"
        if target != REMOTE:
            return host_refusal(target, allowed)
    return None
