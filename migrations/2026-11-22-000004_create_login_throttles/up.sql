-- Failed-login counters per (tenant code, lower-cased email). Keyed by the code the
-- client typed rather than by tenant_id, because an unknown tenant must be throttled
-- exactly like a known one (no existence oracle). Rows expire by time; deleting a
-- tenant deletes its rows (see repos::tenants::delete).
CREATE TABLE login_throttles (
    tenant_code       text        NOT NULL,
    email             text        NOT NULL,
    failures          integer     NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_code, email)
);
