-- calls: every authorized S3 call of each role in the window with the (action, resource)
-- pairs it needed, identical calls folded into one row with a count. This is what the replay
-- check runs against a recommended policy. `complete` is false when a needed resource could
-- not be built from the record (those calls are also listed by queries/unmapped.sql).
-- Ordered by role, then first seen (cheaper to sort than the strings, and as deterministic).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    c.function_name,
    c.region,
    c.event_name,
    c.outcome,
    c.needs,
    c.status = 'mapped' AS complete,
    count(*) AS calls,
    min(c.event_time) AS first_seen,
    max(c.event_time) AS last_seen,
    min(c.event_id) AS example_event_id
FROM s3_calls AS c
WHERE c.status IN ('mapped', 'no_resource') AND NOT c.denied
GROUP BY c.role_arn, c.function_name, c.region, c.event_name, c.outcome, c.needs, c.status
ORDER BY c.role_arn, first_seen, example_event_id
