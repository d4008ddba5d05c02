-- usage: what each role really used, as role × IAM action × resource with how many calls
-- needed it and when it was first and last seen in the window. Calls that failed
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
    max(c.event_time) AS last_seen
FROM s3_calls AS c, unnest(c.needs) AS u(need)
WHERE NOT c.denied
GROUP BY c.role_arn, u.need.action, u.need.resource
ORDER BY c.role_arn, first_seen, u.need.action, resource_arn
