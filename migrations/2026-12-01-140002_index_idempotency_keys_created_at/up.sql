-- A migration of its own: on Citus, `tenantry migrate` failed with "cannot insert multiple
-- commands into a prepared statement" when this index shared a file with the CREATE TABLE.
-- `/utils/db/optimize` removes keys older than 24 h for every tenant at once.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
