-- The gate service's runs: one per (namespace, name, revision), the key a controller (Argo Rollouts, Flagger,
-- Kargo) asks with, so two replicas or a retried request attach to the same run instead of starting another.
CREATE TABLE IF NOT EXISTS reelgate_gates.runs (
    namespace text NOT NULL,
    name text NOT NULL,
    revision text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'finished')),
    verdict text CHECK (verdict IN ('promote', 'block')),
    reason text NOT NULL DEFAULT '',
    candidate_url text NOT NULL,
    results jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (namespace, name, revision)
);
