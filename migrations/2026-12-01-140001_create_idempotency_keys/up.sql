-- Idempotency keys (docs/API.md §1 "idempotency"): the answer to the first request a tenant
-- sent with a key, stored in the same transaction as the change it made, so a retry of a
-- committed change is answered from here and a retry of a rolled-back one runs again.
-- A request still running holds a transaction-level advisory lock on (tenant, key)
-- instead of a row, so nothing is left behind when it fails.
CREATE TABLE idempotency_keys (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 of method, path and body: the same key with another request is refused.
    request_hash bytea       NOT NULL,
    status       smallint    NOT NULL,
    body         text        NOT NULL,
    etag         text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
