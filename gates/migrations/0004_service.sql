-- The gate service, round two: who may ask (tokens scoped to namespaces, stored as SHA-256 hashes as the
-- platform's API keys are), where a run came from, when it was last asked about (runs nobody polls expire),
-- and which process runs it (a run whose process stopped beating is lost, not `running` forever).
CREATE TABLE IF NOT EXISTS reelgate_gates.tokens (
    name text PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    prefix text NOT NULL,
    namespaces text[] NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

ALTER TABLE reelgate_gates.runs DROP CONSTRAINT IF EXISTS runs_state_check;
ALTER TABLE reelgate_gates.runs ADD CONSTRAINT runs_state_check CHECK (state IN ('running', 'finished', 'expired'));
ALTER TABLE reelgate_gates.runs
    ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'api',
    ADD COLUMN IF NOT EXISTS started_by text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS live_url text,
    ADD COLUMN IF NOT EXISTS commit_sha text,
    ADD COLUMN IF NOT EXISTS owner text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS polled_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS beat_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS controller_phase text;
CREATE INDEX IF NOT EXISTS runs_running ON reelgate_gates.runs (state) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS runs_created ON reelgate_gates.runs (created_at DESC);
