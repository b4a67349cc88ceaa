-- The release dashboard's people: accounts made with the CLI (`reelgate gate account create`), each a
-- `viewer` (reads everything) or an `approver` (also approves), passwords as Argon2id hashes; and their
-- sign-in sessions, kept as SHA-256 hashes of the cookie's random id, with a CSRF token each.
CREATE TABLE IF NOT EXISTS reelgate_gates.accounts (
    name text PRIMARY KEY,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('viewer', 'approver')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

CREATE TABLE IF NOT EXISTS reelgate_gates.sessions (
    id_hash bytea PRIMARY KEY,
    account text NOT NULL REFERENCES reelgate_gates.accounts (name) ON DELETE CASCADE,
    csrf text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
