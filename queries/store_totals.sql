-- store_totals: how much the database holds, for the analysis header and the report's
-- ingest-health section.
--
-- Parameters: none.
-- Reads: files, events, skipped_files.
SELECT
    (SELECT count(*) FROM files) AS files,
    (SELECT count(*) FROM events) AS events,
    (SELECT count(*) FROM skipped_files) AS skipped_files
