-- Tenants are the root of isolation: every tenant-owned row references tenants(id)
-- with ON DELETE CASCADE, so deleting a tenant removes all of its rows.
CREATE TABLE tenants (
    id               uuid        PRIMARY KEY,
    name             text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    code             text        NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,49}$'),
    status           text        NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'suspended', 'archived')),
    max_users        integer     NOT NULL DEFAULT 100 CHECK (max_users >= 1),
    max_storage_gb   integer     NOT NULL DEFAULT 10 CHECK (max_storage_gb >= 1),
    features_enabled jsonb       NOT NULL DEFAULT '{"expenses": true, "items": true}'
                                 CHECK (jsonb_typeof(features_enabled) = 'object'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_code_key UNIQUE (code)
);

CREATE INDEX tenants_created_idx ON tenants (created_at DESC, id DESC);
