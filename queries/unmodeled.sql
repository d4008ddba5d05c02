-- unmodeled: per role, the authorized S3-family calls whose IAM requests the mapping table
-- cannot fully derive: an s3 eventName it does not know ('no_mapping'), a mapped call whose
-- record lacks a needed resource ('no_resource': the actions are in `actions`), or a call to
-- another S3 service ('other_s3_service'). Their permissions cannot be checked, so the
-- recommendation keeps today's grants that could authorize them. A copy source is another
-- resource than the call's bucket: a copy whose record does not name its source gives a row
-- 'no_copy_source' with every action the mapping has on a copy source and no resource (it
-- could be any object); an unmapped call naming one gives a 'no_mapping' row on the source's
-- bucket (or access point), or on no resource when the name is not read.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first) and the temp
--   table s3_event_actions.
WITH source_actions AS (
    -- What each copy event reads from its source, the companions too (kept when held).
    SELECT DISTINCT
        m.event_name,
        m.action
    FROM s3_event_actions AS m
    WHERE m.resource = 'copy_source'
),

incomplete AS (
    SELECT
        c.role_arn,
        c.event_source,
        c.event_name,
        c.status,
        c.auth_bucket_arn,
        c.unresolved,
        c.copy_source_arn,
        c.source_unplaced,
        c.event_id,
        c.event_time
    FROM s3_calls AS c
    WHERE c.status <> 'mapped' AND NOT c.denied
),

unresolved AS (
    SELECT
        i.*,
        u.action
    FROM incomplete AS i
    LEFT JOIN unnest(i.unresolved) AS u (action) ON TRUE
),

on_the_call AS (
    -- The actions on the call's own bucket or access point; the copy source's are below.
    SELECT
        c.role_arn,
        c.event_source,
        c.event_name,
        c.status,
        c.auth_bucket_arn AS bucket_arn,
        c.action,
        c.event_id,
        c.event_time
    FROM unresolved AS c
    LEFT JOIN source_actions AS s
        ON c.source_unplaced AND s.event_name = c.event_name AND s.action = c.action
    WHERE s.action IS NULL
),

on_the_source AS (
    SELECT
        c.role_arn,
        c.event_source,
        c.event_name,
        CASE WHEN c.status = 'no_mapping' THEN c.status ELSE 'no_copy_source' END AS status,
        CASE
            WHEN NOT c.source_unplaced
                THEN regexp_extract(
                    c.copy_source_arn,
                    '^(arn:[^:]*:s3:::[^/]+|arn:[^:]*:s3:[^:]*:[^:]*:accesspoint/[^/]+)',
                    1
                )
        END AS bucket_arn,
        s.action,
        c.event_id,
        c.event_time
    FROM incomplete AS c
    LEFT JOIN source_actions AS s ON s.event_name = c.event_name
    WHERE
        c.event_source = 's3.amazonaws.com'
        AND (c.source_unplaced OR (c.status = 'no_mapping' AND c.copy_source_arn IS NOT NULL))
),

gaps AS (
    SELECT * FROM on_the_call
    UNION ALL
    SELECT * FROM on_the_source
)

SELECT
    g.role_arn,
    g.event_source,
    g.event_name,
    g.status,
    g.bucket_arn AS resource_arn,
    list(DISTINCT g.action ORDER BY g.action) FILTER (WHERE g.action IS NOT NULL) AS actions,
    count(DISTINCT g.event_id) AS calls,
    min(g.event_time) AS first_seen,
    max(g.event_time) AS last_seen,
    min(g.event_id) AS example_event_id
FROM gaps AS g
-- Per bucket or access point (few groups), never per object.
GROUP BY g.role_arn, g.event_source, g.event_name, g.status, g.bucket_arn
ORDER BY g.role_arn, g.event_source, g.event_name, g.status, g.bucket_arn NULLS FIRST
