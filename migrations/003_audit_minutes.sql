-- Sentinel registry schema, part 3: the audit log counted by minute.
-- The status page charts the last hour per version and minute. Read from `predictions`, that hour
-- is millions of rows at full load (tens of seconds a page); these tables hold the same counts,
-- which the service's audit writer brings up to date about once a second.

-- Latency buckets, 12 a decade (the E12 series 10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68, 82) from
-- 10 µs to 100 s, and one below 10 µs. A bucket runs from its from_us up to the next one's (each
-- 18-25 % wider than its start); the last is open-ended. A percentile read from them lies in the
-- bucket of the exact value.
CREATE TABLE latency_buckets (
    from_us INTEGER PRIMARY KEY CHECK (from_us >= 0)
);

WITH RECURSIVE decade(scale) AS (SELECT 1 UNION ALL SELECT scale * 10 FROM decade WHERE scale < 1000000),
     step(mantissa) AS (VALUES (10), (12), (15), (18), (22), (27), (33), (39), (47), (56), (68), (82))
INSERT INTO latency_buckets (from_us)
SELECT 0
UNION ALL SELECT mantissa * scale FROM decade, step
UNION ALL SELECT 100000000;

-- Per minute ('2026-11-29T08:30', the first 16 characters of predicted_at, UTC), version and latency
-- bucket: how many predictions, and how many of them were decided fraud.
CREATE TABLE prediction_minutes (
    minute          TEXT    NOT NULL,
    version_id      INTEGER NOT NULL REFERENCES model_versions(id),
    latency_from_us INTEGER NOT NULL REFERENCES latency_buckets(from_us),
    predictions     INTEGER NOT NULL CHECK (predictions > 0),
    flagged         INTEGER NOT NULL CHECK (flagged BETWEEN 0 AND predictions),
    PRIMARY KEY (minute, version_id, latency_from_us)
) WITHOUT ROWID;

-- prediction_minutes counts exactly the rows of predictions whose id is at most through_id (in the
-- minutes retention has not pruned); readers count the rows above it themselves. One row.
CREATE TABLE prediction_minutes_through (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    through_id INTEGER NOT NULL CHECK (through_id >= 0)
);

INSERT INTO prediction_minutes_through (id, through_id) VALUES (1, 0);

-- Deleting the newest rows (retention that empties the table, or a DELETE typed in the sqlite3
-- shell) frees their ids, and SQLite gives them to the next rows appended: the mark comes down in
-- the same transaction, so that those rows are counted. Counts are never taken back: a deleted
-- row stays counted in its minute until retention drops the minute.
CREATE TRIGGER predictions_delete_lowers_minutes_mark AFTER DELETE ON predictions
WHEN OLD.id > (SELECT coalesce(max(id), 0) FROM predictions)
BEGIN
    UPDATE prediction_minutes_through SET through_id = (SELECT coalesce(max(id), 0) FROM predictions)
    WHERE id = 1 AND through_id > (SELECT coalesce(max(id), 0) FROM predictions);
END;

-- For people: predictions and fraud decisions per minute and version (the counted rows only, see
-- prediction_minutes_through).
CREATE VIEW prediction_minute_log AS
SELECT r.minute            AS minute,
       m.name              AS model,
       'v' || v.version    AS version,
       sum(r.predictions)  AS predictions,
       sum(r.flagged)      AS flagged
FROM prediction_minutes r
JOIN model_versions v ON v.id = r.version_id
JOIN models m         ON m.id = v.model_id
GROUP BY r.minute, r.version_id;
