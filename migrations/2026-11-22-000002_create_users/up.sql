-- Users belong to exactly one tenant. The primary key leads with tenant_id so every
-- lookup is tenant-scoped and the table can be distributed by tenant_id (Citus).
CREATE TABLE users (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    email         text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    username      text        NOT NULL CHECK (char_length(username) BETWEEN 1 AND 100),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    is_active     boolean     NOT NULL DEFAULT true,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- Email is unique per tenant, whatever its letter case.
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
-- Serves the default list order (newest first) and keyset pagination.
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC);
