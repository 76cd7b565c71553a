-- btree_gin gives GIN operator classes for plain scalar types, so one GIN index can hold
-- both tenant_id (equality) and the search vector: a tenant's search is a single index
-- scan that never walks another tenant's entries. It is a trusted extension (PG 13+),
-- so the database owner can create it without being a superuser.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Items: a tenant's free-form records with full-text search (docs/API.md §7).
CREATE TABLE items (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
    description text        CHECK (char_length(description) <= 10000),
    owner_id    uuid        NOT NULL,
    -- Stored, so searches never re-parse the text; the title outranks the description.
    -- 'english' is spelled out: to_tsvector(regconfig, text) is immutable only with an
    -- explicit configuration, which a generated column requires.
    search      tsvector    NOT NULL GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', title), 'A') ||
                    setweight(to_tsvector('english', coalesce(description, '')), 'B')
                ) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT items_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT items_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    -- Composite, so an item can never name another tenant's user. NO ACTION (not SET
    -- NULL): users are deactivated, never deleted, and a tenant's deletion removes its
    -- users and items in the same statement.
    CONSTRAINT items_owner_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);

-- Newest-first listing and keyset pagination, with and without ?owner_id=.
CREATE INDEX items_tenant_created_idx ON items (tenant_id, created_at DESC, id DESC);
CREATE INDEX items_tenant_owner_created_idx ON items (tenant_id, owner_id, created_at DESC, id DESC);
-- Per-tenant full-text search (tenant_id through btree_gin).
CREATE INDEX items_tenant_search_idx ON items USING gin (tenant_id, search);
