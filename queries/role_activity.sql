-- role_activity: per role, how many authorized S3-family calls it made in the window, how many
-- of them the mapping could not fully model (an unknown eventName, a resource the record does
-- not show, another S3 service: queries/unmodeled.sql), and the regions it called from (denied
-- calls included: they show where the role's code runs).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    count(*) FILTER (WHERE NOT c.denied) AS calls,
    count(*) FILTER (WHERE c.status <> 'mapped' AND NOT c.denied) AS incomplete_calls,
    list(DISTINCT c.region ORDER BY c.region) FILTER (WHERE c.region IS NOT NULL) AS regions
FROM s3_calls AS c
GROUP BY c.role_arn
ORDER BY c.role_arn
