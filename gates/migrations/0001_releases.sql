-- The gate engine's own schema: releases, their timeline, gate results, human decisions.
CREATE SCHEMA IF NOT EXISTS reelgate_gates;

CREATE TABLE reelgate_gates.releases (
    id text PRIMARY KEY,
    candidate text NOT NULL,
    commit_sha text,
    policy_name text NOT NULL,
    policy_file text NOT NULL,
    state text NOT NULL CHECK (state IN ('planned', 'deploying', 'gating', 'awaiting_approval', 'switching',
                                         'watching', 'promoted', 'blocked', 'rolled_back', 'aborted')),
    live_before text NOT NULL,
    candidate_color text NOT NULL,
    candidate_url text,
    decision jsonb,
    build_dir text,
    build_before text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- One release at a time: at most one row in a non-final state.
CREATE UNIQUE INDEX releases_one_active ON reelgate_gates.releases ((true))
    WHERE state NOT IN ('promoted', 'blocked', 'rolled_back', 'aborted');

CREATE TABLE reelgate_gates.events (
    id bigserial PRIMARY KEY,
    release_id text NOT NULL REFERENCES reelgate_gates.releases (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL,
    message text NOT NULL,
    actor text NOT NULL
);

CREATE TABLE reelgate_gates.results (
    release_id text NOT NULL REFERENCES reelgate_gates.releases (id) ON DELETE CASCADE,
    gate text NOT NULL,
    phase text NOT NULL,
    verdict text NOT NULL,
    result jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (release_id, phase, gate)
);

CREATE TABLE reelgate_gates.waivers (
    id bigserial PRIMARY KEY,
    release_id text REFERENCES reelgate_gates.releases (id) ON DELETE CASCADE,
    gate text NOT NULL,
    check_name text NOT NULL,
    reason text NOT NULL,
    author text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Which color takes traffic: the router's switch is written here first, so a
-- regenerated router config (and a resumed runner) knows the truth.
CREATE TABLE reelgate_gates.live (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    color text NOT NULL CHECK (color IN ('blue', 'green')),
    release_id text,
    build_dir text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
