-- Sentinel registry schema, part 5: REPLACE cannot rewrite the promotion history or a version.
-- REPLACE (INSERT OR REPLACE) deletes the row it collides with without firing its DELETE
-- triggers (SQLite fires them only with recursive_triggers on), so the append-only and
-- fixed-column triggers before this one did not stop it: a promotion could be rewritten in place,
-- or a version's threshold, golden rows or artifact swapped under the audit rows that name it.
-- An insert that collides with an existing row is refused instead. (Registration never collides:
-- it takes the next version number inside its transaction.) The audit log is left as it is: the
-- same check would cost its writer about a microsecond a row, on every prediction.

CREATE TRIGGER promotions_append_only_insert BEFORE INSERT ON promotions
WHEN EXISTS (SELECT 1 FROM promotions WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'promotion history is append-only');
END;

CREATE TRIGGER model_versions_no_replace BEFORE INSERT ON model_versions
WHEN EXISTS (SELECT 1 FROM model_versions WHERE id = NEW.id OR (model_id = NEW.model_id AND version = NEW.version))
BEGIN
    SELECT RAISE(ABORT, 'a registered version''s artifact, identity, threshold and golden rows cannot change');
END;
