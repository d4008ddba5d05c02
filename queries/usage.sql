-- usage: what each role really used, as role × IAM action × resource with how many calls
-- needed it, when it was first and last seen in the window, by which functions, and one
-- example event id (the evidence `rightsizer explain` shows). Calls that failed
-- authorization (AccessDenied and the like) are never usage; other errors (NoSuchKey, ...)
-- happen after authorization and are. Ordered by role, then first seen (cheaper to sort than
-- the ARNs, and as deterministic).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    u.need.action,
    u.need.resource AS resource_arn,
    count(*) AS calls,
    min(c.event_time) AS first_seen,
    max(c.event_time) AS last_seen,
    -- Not list(DISTINCT ... ORDER BY ...): DuckDB cannot spill such an aggregate, one per object.
    list_sort(list_distinct(list(c.function_name)
        FILTER (WHERE c.function_name IS NOT NULL))) AS functions,
    min(c.event_id) AS example_event_id
FROM s3_calls AS c, unnest(c.needs) AS u(need)
WHERE NOT c.denied
GROUP BY c.role_arn, u.need.action, u.need.resource
ORDER BY c.role_arn, first_seen, u.need.action, resource_arn
