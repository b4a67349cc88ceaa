-- The live dashboard: each gate of a release as it runs (planned with its phase, started, then its result in
-- `results`); the policy's text as the release started (the compare view diffs it); and a structured detail
-- for an event that has one (a watch sample's requests, errors and p95).
CREATE TABLE IF NOT EXISTS reelgate_gates.progress (
    release_id text NOT NULL REFERENCES reelgate_gates.releases (id) ON DELETE CASCADE,
    phase text NOT NULL,
    gate text NOT NULL,
    uses text NOT NULL,
    required boolean NOT NULL,
    position integer NOT NULL,
    started_at timestamptz,
    PRIMARY KEY (release_id, phase, gate)
);

ALTER TABLE reelgate_gates.releases ADD COLUMN IF NOT EXISTS policy_text text;
ALTER TABLE reelgate_gates.events ADD COLUMN IF NOT EXISTS detail jsonb;
CREATE INDEX IF NOT EXISTS events_release ON reelgate_gates.events (release_id, id);
