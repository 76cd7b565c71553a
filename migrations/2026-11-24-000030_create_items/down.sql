DROP TABLE items;
-- Fails (rather than cascading) should anything else have come to depend on it.
DROP EXTENSION IF EXISTS btree_gin;
