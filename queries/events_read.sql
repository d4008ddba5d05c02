-- events_read: what an engine that reads the logs where they are (Athena) read for the
-- window: the log files its events came from, and the events (after ingest's rules).
--
-- Parameters: none.
-- Reads: events.
SELECT
    count(DISTINCT e.source_file) AS files,
    count(*) AS events
FROM events AS e
