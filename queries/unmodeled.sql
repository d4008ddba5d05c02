-- unmodeled: per role, the authorized S3-family calls whose IAM requests the mapping table
-- cannot fully derive: an s3 eventName it does not know ('no_mapping'), a mapped call whose
-- record lacks a needed resource ('no_resource': the actions are in `actions`), or a call to
-- another S3 service ('other_s3_service'). Their permissions cannot be checked, so the
-- recommendation keeps today's grants that could authorize them.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.role_arn,
    c.event_source,
    c.event_name,
    c.status,
    c.auth_bucket_arn AS resource_arn,
    list(DISTINCT u.action ORDER BY u.action) FILTER (WHERE u.action IS NOT NULL) AS actions,
    count(DISTINCT c.event_id) AS calls,
    min(c.event_time) AS first_seen,
    max(c.event_time) AS last_seen,
    min(c.event_id) AS example_event_id
FROM s3_calls AS c
LEFT JOIN unnest(c.unresolved) AS u(action) ON TRUE
WHERE c.status <> 'mapped' AND NOT c.denied
GROUP BY c.role_arn, c.event_source, c.event_name, c.status, c.auth_bucket_arn
ORDER BY c.role_arn, c.event_source, c.event_name, c.status, resource_arn NULLS FIRST
