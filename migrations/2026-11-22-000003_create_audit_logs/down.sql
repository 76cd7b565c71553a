DROP FUNCTION ensure_audit_log_partitions(integer);
-- Dropping the parent drops every partition with it.
DROP TABLE audit_logs;
