-- Sentinel registry schema, part 2: the prediction audit log.
-- One row per scored transaction (a batch request gives one row per instance, told apart by
-- row_index). Rows are appended by the service's single audit writer and only ever deleted by
-- retention pruning.

CREATE TABLE predictions (
    id          INTEGER PRIMARY KEY,
    predicted_at TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    row_index   INTEGER NOT NULL DEFAULT 0,
    model_id    INTEGER NOT NULL REFERENCES models(id),
    version_id  INTEGER NOT NULL REFERENCES model_versions(id),
    -- JSON object of the features as the model received them (null = missing)
    features    TEXT    NOT NULL,
    score       REAL    NOT NULL,
    decision    TEXT    NOT NULL CHECK (decision IN ('fraud', 'legit')),
    latency_us  INTEGER NOT NULL CHECK (latency_us >= 0)
);

-- The usual audit questions: what happened in a time range, what did one version decide,
-- and what became of one request.
CREATE INDEX predictions_by_time    ON predictions (predicted_at);
CREATE INDEX predictions_by_version ON predictions (version_id, predicted_at);
CREATE INDEX predictions_by_request ON predictions (request_id);

CREATE TRIGGER predictions_append_only BEFORE UPDATE ON predictions
BEGIN
    SELECT RAISE(ABORT, 'the prediction audit log is append-only');
END;

CREATE VIEW prediction_log AS
SELECT p.id               AS id,
       p.predicted_at     AS predicted_at,
       p.request_id       AS request_id,
       p.row_index        AS row_index,
       m.name             AS model,
       'v' || v.version   AS version,
       p.score            AS score,
       p.decision         AS decision,
       p.latency_us       AS latency_us,
       p.features         AS features
FROM predictions p
JOIN models m         ON m.id = p.model_id
JOIN model_versions v ON v.id = p.version_id;
