-- What the deployer handed over (URLs, build, commit; never the gates' key), so a later command
-- (`release approve`, recovery) gates and rolls back the same deployment.
ALTER TABLE reelgate_gates.releases ADD COLUMN IF NOT EXISTS deployment jsonb;
