-- Sentinel registry schema, part 4: a version's decision threshold and golden rows are as fixed as
-- its artifact. Each audit row names its version's row, and the threshold there is the line its
-- decision was drawn at: changed afterwards, it would say a decision was made at a line it was not.
-- The golden rows are the version's self-test, which a service that refused the version keeps for
-- the version's life (a fix is a new version: register it again with the right threshold or rows).

DROP TRIGGER model_versions_artifact_immutable;

CREATE TRIGGER model_versions_artifact_immutable
BEFORE UPDATE OF artifact, artifact_sha256, artifact_size, format, feature_schema, model_id, version, threshold, golden_rows
ON model_versions
BEGIN
    SELECT RAISE(ABORT, 'a registered version''s artifact, identity, threshold and golden rows cannot change');
END;
