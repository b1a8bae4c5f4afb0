-- Sentinel registry schema, part 1: models, their numbered versions, metrics and promotion history.
-- Applied once, in its own transaction, and recorded in schema_migrations. Never edit a shipped
-- migration: add a new numbered file instead.

-- Times are UTC text in one fixed format (2026-11-29T08:30:00.123Z) so that they read well in the
-- sqlite3 shell and sort as they compare.

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE
                        CHECK (length(name) BETWEEN 1 AND 128 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    created_at  TEXT    NOT NULL
);

CREATE TABLE model_versions (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models(id),
    -- per-model number; shown to people as 'v' || version
    version         INTEGER NOT NULL CHECK (version >= 1),
    format          TEXT    NOT NULL CHECK (format IN ('xgboost-json', 'lightgbm-text', 'logistic')),
    -- the artifact itself lives here: one database file is one backup
    artifact        BLOB    NOT NULL CHECK (length(artifact) > 0),
    artifact_sha256 TEXT    NOT NULL CHECK (length(artifact_sha256) = 64),
    artifact_size   INTEGER NOT NULL CHECK (artifact_size = length(artifact)),
    -- JSON array of the feature names, in the order the model reads them
    feature_schema  TEXT    NOT NULL CHECK (json_valid(feature_schema) AND json_type(feature_schema) = 'array'),
    -- score at or above which the decision is 'fraud'
    threshold       REAL    NOT NULL,
    description     TEXT,
    -- JSON lines of {"features": {...}, "score": p}: rows the version must reproduce before it serves
    golden_rows     TEXT,
    stage           TEXT    NOT NULL DEFAULT 'registered'
                            CHECK (stage IN ('registered', 'production', 'archived')),
    created_at      TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    UNIQUE (model_id, version)
);

-- At most one active (production) version per model, enforced by the database itself.
CREATE UNIQUE INDEX model_versions_one_production
    ON model_versions (model_id) WHERE stage = 'production';

-- What was scored must stay what is stored: an artifact never changes after registration.
CREATE TRIGGER model_versions_artifact_immutable
BEFORE UPDATE OF artifact, artifact_sha256, artifact_size, format, feature_schema, model_id, version
ON model_versions
BEGIN
    SELECT RAISE(ABORT, 'a registered version''s artifact and identity cannot change');
END;

CREATE TABLE version_metrics (
    version_id  INTEGER NOT NULL REFERENCES model_versions(id),
    name        TEXT    NOT NULL CHECK (length(name) > 0),
    value       REAL    NOT NULL,
    PRIMARY KEY (version_id, name)
) WITHOUT ROWID;

CREATE TABLE promotions (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models(id),
    -- NULL when nothing was active before
    from_version_id INTEGER REFERENCES model_versions(id),
    to_version_id   INTEGER NOT NULL REFERENCES model_versions(id),
    action          TEXT    NOT NULL CHECK (action IN ('promote', 'rollback')),
    promoted_at     TEXT    NOT NULL,
    promoted_by     TEXT    NOT NULL,
    reason          TEXT
);

CREATE INDEX promotions_by_model ON promotions (model_id, id);

-- History is evidence: it is appended to, never rewritten.
CREATE TRIGGER promotions_append_only_update BEFORE UPDATE ON promotions
BEGIN
    SELECT RAISE(ABORT, 'promotion history is append-only');
END;
CREATE TRIGGER promotions_append_only_delete BEFORE DELETE ON promotions
BEGIN
    SELECT RAISE(ABORT, 'promotion history is append-only');
END;

-- Views for people using the sqlite3 shell.

CREATE VIEW version_summary AS
SELECT m.name                AS model,
       'v' || v.version      AS version,
       v.stage               AS stage,
       v.format              AS format,
       v.threshold           AS threshold,
       v.artifact_size       AS artifact_bytes,
       v.artifact_sha256     AS sha256,
       v.created_at          AS created_at,
       v.created_by          AS created_by,
       v.description         AS description
FROM model_versions v
JOIN models m ON m.id = v.model_id;

CREATE VIEW promotion_log AS
SELECT p.id                   AS id,
       m.name                 AS model,
       'v' || f.version       AS from_version,
       'v' || t.version       AS to_version,
       p.action               AS action,
       p.promoted_at          AS promoted_at,
       p.promoted_by          AS promoted_by,
       p.reason               AS reason
FROM promotions p
JOIN models m              ON m.id = p.model_id
JOIN model_versions t      ON t.id = p.to_version_id
LEFT JOIN model_versions f ON f.id = p.from_version_id;
