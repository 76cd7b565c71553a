-- Tokens issued before this instant (to the second) are refused: set by a password
-- change and by a deactivation, read with the principal on every cache miss.
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
