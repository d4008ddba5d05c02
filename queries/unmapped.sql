-- unmapped: S3-family calls the mapping table cannot turn into IAM actions, with counts, so
-- nothing is dropped silently. reason: 'no_mapping' (an s3 eventName the table does not
-- know), 'other_s3_service' (s3express, s3-outposts, s3tables: reported, not mapped), or
-- 'no_resource' (mapped, but the record lacks what a needed resource ARN is built from).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
SELECT
    c.event_source,
    c.event_name,
    c.status AS reason,
    count(*) AS calls
FROM s3_calls AS c
WHERE c.status <> 'mapped'
GROUP BY c.event_source, c.event_name, c.status
ORDER BY c.event_source, c.event_name, c.status
