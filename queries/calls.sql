-- calls: every authorized S3 call of each role in the window with the (action, resource)
-- pairs it needed, identical calls folded into one row with a count. This is what the replay
-- check runs against a recommended policy. `complete` is false when a needed resource could
-- not be built from the record (those calls are also listed by queries/unmapped.sql).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
WITH per_call AS (
    SELECT
        c.role_arn,
        c.function_name,
        c.region,
        c.event_name,
        c.outcome,
        c.event_id,
        c.event_time,
        list(c.action ORDER BY c.action, c.resource_arn)
            FILTER (WHERE c.status = 'needed') AS actions,
        list(c.resource_arn ORDER BY c.action, c.resource_arn)
            FILTER (WHERE c.status = 'needed') AS resources,
        count(*) FILTER (WHERE c.status = 'no_resource') = 0 AS complete
    FROM s3_calls AS c
    WHERE c.status IN ('needed', 'no_resource') AND NOT c.denied
    GROUP BY
        c.role_arn, c.function_name, c.region, c.event_name, c.outcome, c.event_id, c.event_time
)

SELECT
    p.role_arn,
    p.function_name,
    p.region,
    p.event_name,
    p.outcome,
    coalesce(p.actions, []) AS actions,
    coalesce(p.resources, []) AS resources,
    p.complete,
    count(*) AS calls,
    min(p.event_time) AS first_seen,
    max(p.event_time) AS last_seen,
    min(p.event_id) AS example_event_id
FROM per_call AS p
GROUP BY
    p.role_arn, p.function_name, p.region, p.event_name, p.outcome, p.actions, p.resources,
    p.complete
ORDER BY p.role_arn, p.function_name, p.region, p.event_name, p.outcome, example_event_id
