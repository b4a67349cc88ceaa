-- The platform's first schema: tenants, their keys, videos and reference-counted outputs.

CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE,
    -- NULL: the default limit; 0: not limited (benchmarks, internal tools).
    rate_limit_per_minute integer CHECK (rate_limit_per_minute >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- SHA-256 of the key: keys are high-entropy, so a slow hash would only cost every request.
    key_hash bytea NOT NULL UNIQUE,
    prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- One transcode result, shared by every video of the same tenant with the
-- same content and ladder. Deleted when its last video goes.
CREATE TABLE outputs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    content_sha256 text NOT NULL,
    ladder_key text NOT NULL,
    dir text NOT NULL,
    refcount integer NOT NULL DEFAULT 0 CHECK (refcount >= 0),
    thumbnail_bytes bigint NOT NULL DEFAULT 0,
    cpu_seconds double precision NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, content_sha256, ladder_key)
);

CREATE TABLE renditions (
    output_id uuid NOT NULL REFERENCES outputs (id) ON DELETE CASCADE,
    name text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    bytes bigint NOT NULL,
    file text NOT NULL,
    remuxed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (output_id, name)
);

CREATE TABLE videos (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    filename text NOT NULL,
    title text NOT NULL DEFAULT '',
    content_type text NOT NULL,
    source_bytes bigint NOT NULL,
    content_sha256 text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    failure_reason text,
    progress real NOT NULL DEFAULT 0,
    duration_s double precision,
    width integer,
    height integer,
    video_codec text,
    audio_codec text,
    ladder_key text NOT NULL,
    output_id uuid REFERENCES outputs (id),
    attempts integer NOT NULL DEFAULT 0,
    cpu_seconds double precision NOT NULL DEFAULT 0,
    color text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE INDEX videos_tenant_page ON videos (tenant_id, created_at DESC, id DESC);
CREATE INDEX videos_unfinished ON videos (status) WHERE status IN ('queued', 'processing');
