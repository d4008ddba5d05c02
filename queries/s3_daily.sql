-- s3_daily: each role's S3 activity per UTC day of the window: authorized calls and calls
-- denied by authorization. Days without a call are absent.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    CAST(date_trunc('day', c.event_time) AS DATE) AS day,
    count(*) FILTER (WHERE c.status IN ('mapped', 'no_resource') AND NOT c.denied) AS calls,
    count(*) FILTER (WHERE c.denied) AS denied
FROM s3_calls AS c
GROUP BY c.role_arn, CAST(date_trunc('day', c.event_time) AS DATE)
ORDER BY c.role_arn, day
