-- Undoes up.sql in one statement (see up.sql).
SELECT tenantry_unprotect('idempotency_keys');
