-- companions: permissions no logged call needed but that a role relying on these calls may
-- still need on a rare path (s3:AbortMultipartUpload after a failed multipart upload,
-- s3:ListBucket for 404-instead-of-403 on a missing key, ...; facts §1.3). Keep them when the
-- role holds them today; never add them.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    c.action,
    c.resource_arn,
    list(DISTINCT c.event_name ORDER BY c.event_name) AS event_names,
    min(c.mapping_source) AS reason,
    count(*) AS calls
FROM s3_calls AS c
WHERE c.status = 'companion' AND NOT c.denied
GROUP BY c.role_arn, c.action, c.resource_arn
ORDER BY c.role_arn, c.action, c.resource_arn
