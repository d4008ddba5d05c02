-- calls: every authorized S3 call of each role in the window with the (action, resource)
-- pairs it needed, identical calls folded into one row with a count. This is what the replay
-- check runs against a recommended policy. `complete` is false when a needed resource could
-- not be built from the record (those calls are also listed by queries/unmapped.sql).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
WITH folded AS (
    -- `needs` is a function of the columns grouped on, which are cheaper to group by than
    -- the list itself.
    SELECT
        c.role_arn,
        c.function_name,
        c.region,
        c.event_name,
        c.outcome,
        any_value(c.needs) AS needs,
        c.status = 'mapped' AS complete,
        count(*) AS calls,
        min(c.event_time) AS first_seen,
        max(c.event_time) AS last_seen,
        min(c.event_id) AS example_event_id
    FROM s3_calls AS c
    WHERE c.status IN ('mapped', 'no_resource') AND NOT c.denied
    GROUP BY
        c.role_arn, c.function_name, c.region, c.event_name, c.outcome, c.object_arn,
        c.bucket_arn, c.copy_source_arn, c.request_flags, c.status
)

SELECT
    f.role_arn,
    f.function_name,
    f.region,
    f.event_name,
    f.outcome,
    f.needs,
    f.complete,
    f.calls,
    f.first_seen,
    f.last_seen,
    f.example_event_id
FROM folded AS f
ORDER BY f.role_arn, f.function_name, f.region, f.event_name, f.outcome, f.example_event_id
