-- Defence in depth, expand only: the color before this release connects as the owner role, which
-- row-level security does not bind, and never reads the new table; it keeps working unchanged.
--
-- 1. An application role. From this release on, the API and the worker log in as `reelgate_app`:
--    no superuser, no BYPASSRLS, owner of nothing. Migrations and the CLI stay on the owner role.
-- 2. The audit log of security events, append-only for the application role.
-- 3. Row-level security on every table holding a tenant's data. A transaction sees a tenant's rows
--    only after `SET LOCAL reelgate.tenant = '<id>'` (the API does this for each request); the worker,
--    which serves every tenant, says so with `reelgate.scope = 'system'`. Neither set: no rows.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelgate_app') THEN
        CREATE ROLE reelgate_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    -- No foreign key: the record of a tenant outlives the tenant.
    tenant_id uuid,
    tenant text,
    actor text NOT NULL,
    address text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at DESC);
CREATE INDEX audit_events_tenant ON audit_events (tenant, at DESC);

GRANT USAGE ON SCHEMA public TO reelgate_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO reelgate_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO reelgate_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO reelgate_app;
-- Tables later migrations (ours and procrastinate's) create get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO reelgate_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO reelgate_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO reelgate_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM reelgate_app;

CREATE FUNCTION reelgate_sees(tenant uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT current_setting('reelgate.scope', true) = 'system'
        OR tenant = nullif(current_setting('reelgate.tenant', true), '')::uuid
$$;

ALTER TABLE videos ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON videos USING (reelgate_sees(tenant_id)) WITH CHECK (reelgate_sees(tenant_id));
ALTER TABLE outputs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON outputs USING (reelgate_sees(tenant_id)) WITH CHECK (reelgate_sees(tenant_id));
-- Renditions and caption tracks belong to an output or a video: visible when their parent is.
ALTER TABLE renditions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON renditions
    USING (EXISTS (SELECT 1 FROM outputs o WHERE o.id = output_id))
    WITH CHECK (EXISTS (SELECT 1 FROM outputs o WHERE o.id = output_id));
ALTER TABLE video_captions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON video_captions
    USING (EXISTS (SELECT 1 FROM videos v WHERE v.id = video_id))
    WITH CHECK (EXISTS (SELECT 1 FROM videos v WHERE v.id = video_id));
