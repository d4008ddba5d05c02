-- role_activity: per role, how many authorized S3 calls it made in the window, how many of
-- them could not be fully mapped to resources, and the regions it called from (denied calls
-- included: they show where the role's code runs).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    count(*) FILTER (WHERE c.status IN ('mapped', 'no_resource') AND NOT c.denied) AS calls,
    count(*) FILTER (WHERE c.status = 'no_resource' AND NOT c.denied) AS incomplete_calls,
    list(DISTINCT c.region ORDER BY c.region) FILTER (WHERE c.region IS NOT NULL) AS regions
FROM s3_calls AS c
GROUP BY c.role_arn
ORDER BY c.role_arn
