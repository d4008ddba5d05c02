-- s3_calls: staging. One row per S3 call in the window × each IAM action the call needed,
-- with the resource ARN of that action. Calls of the S3 family the table cannot map are kept
-- as one row with action NULL and a status saying why, so nothing is dropped silently.
--
-- Parameters:
--   $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
--   $all_principals            BOOLEAN; false = only roles listed in scope_roles
-- Reads: events, and the temp tables scope_roles(role_arn), s3_event_actions and
--   auth_error_codes (rightsizer.mapping.load_mapping_tables).
-- Columns: event_id, event_time, role_arn (the principal: sessionIssuer.arn, else the
--   identity ARN), function_name (the session name), account (the trail account that logged
--   the call), region, event_source, event_name, read_only, event_category, action,
--   resource_kind, resource_arn, bucket, object_key, status ('needed' | 'companion' |
--   'no_mapping' | 'other_s3_service' | 'no_resource'), mapping_source, error_code,
--   error_message, outcome ('success' or the error code), denied (an authorization failure).
WITH in_window AS (
    SELECT
        e.event_id,
        e.event_time,
        e.event_source,
        e.event_name,
        e.event_category,
        e.read_only,
        coalesce(e.role_arn, e.principal_arn) AS role_arn,
        e.session_name AS function_name,
        coalesce(e.recipient_account, e.principal_account) AS account,
        e.aws_region AS region,
        e.error_code,
        e.error_message,
        e.request_parameters AS rp,
        CAST(e.request_parameters AS VARCHAR) AS rp_text,
        e.resources,
        -- The partition comes from the record (a resource ARN, else the principal's ARN).
        nullif(
            regexp_extract(
                coalesce(
                    list_filter(e.resources, lambda r: coalesce(r.arn, r.arn_prefix) LIKE 'arn:%')[1].arn,
                    list_filter(e.resources, lambda r: coalesce(r.arn, r.arn_prefix) LIKE 'arn:%')[1].arn_prefix,
                    e.role_arn,
                    e.principal_arn
                ),
                '^arn:([^:]+):',
                1
            ),
            ''
        ) AS partition_name,
        -- The same call delivered to two accounts: keep the copy of the caller's own account.
        row_number() OVER (
            PARTITION BY coalesce(e.shared_event_id, e.event_id)
            ORDER BY
                CASE WHEN e.recipient_account = split_part(e.role_arn, ':', 5) THEN 0 ELSE 1 END,
                e.event_id
        ) AS copy_rank
    FROM events AS e
    WHERE e.event_time >= $window_start
        AND e.event_time < $window_end
        AND e.event_source IN (
            's3.amazonaws.com',
            's3express.amazonaws.com',
            's3-outposts.amazonaws.com',
            's3tables.amazonaws.com'
        )
        -- Only API calls are authorized by the caller's policies; service events and
        -- VPC-endpoint network-activity records are not.
        AND coalesce(e.event_type, 'AwsApiCall') = 'AwsApiCall'
        AND ($all_principals OR e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s))
),

parsed AS (
    SELECT
        c.*,
        nullif(c.rp ->> '$.bucketName', '') AS rp_bucket,
        nullif(c.rp ->> '$.key', '') AS rp_key,
        nullif(
            regexp_extract(
                list_filter(c.resources, lambda r: r.type = 'AWS::S3::Bucket')[1].arn,
                '^arn:[^:]*:s3:::([^/]+)$',
                1
            ),
            ''
        ) AS resource_bucket,
        -- Headers are looked up only when their name occurs in the text: JSON paths are slow.
        CASE
            WHEN strpos(c.rp_text, '"versionId"') > 0
                THEN coalesce(c.rp ->> '$.versionId', '') <> ''
            ELSE FALSE
        END AS has_version,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-acl"') > 0 THEN c.rp ->> '$."x-amz-acl"'
        END AS acl,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-grant-') > 0
                THEN coalesce(
                    c.rp ->> '$."x-amz-grant-read"',
                    c.rp ->> '$."x-amz-grant-write"',
                    c.rp ->> '$."x-amz-grant-read-acp"',
                    c.rp ->> '$."x-amz-grant-write-acp"',
                    c.rp ->> '$."x-amz-grant-full-control"'
                ) IS NOT NULL
            ELSE FALSE
        END AS has_grant,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-tagging"') > 0
                THEN c.rp ->> '$."x-amz-tagging"' IS NOT NULL
            ELSE FALSE
        END AS has_tagging,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-object-lock-') > 0
                THEN coalesce(
                    c.rp ->> '$."x-amz-object-lock-mode"',
                    c.rp ->> '$."x-amz-object-lock-retain-until-date"'
                ) IS NOT NULL
            ELSE FALSE
        END AS has_retention,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-object-lock-legal-hold"') > 0
                THEN c.rp ->> '$."x-amz-object-lock-legal-hold"' IS NOT NULL
            ELSE FALSE
        END AS has_legal_hold,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-bypass-governance-retention"') > 0
                THEN lower(coalesce(c.rp ->> '$."x-amz-bypass-governance-retention"', 'false'))
                    <> 'false'
            ELSE FALSE
        END AS has_bypass,
        CASE
            WHEN strpos(c.rp_text, '"versions"') > 0 THEN c.rp ->> '$.versions' IS NOT NULL
            ELSE FALSE
        END AS has_versions_key,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-bucket-object-lock-enabled"') > 0
                THEN lower(coalesce(c.rp ->> '$."x-amz-bucket-object-lock-enabled"', ''))
                    = 'true'
            ELSE FALSE
        END AS has_bucket_lock,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-object-ownership"') > 0
                THEN c.rp ->> '$."x-amz-object-ownership"' IS NOT NULL
            ELSE FALSE
        END AS has_ownership,
        CASE
            WHEN strpos(c.rp_text, '"delete"') > 0
                THEN strpos(lower(CAST(c.rp -> '$.delete' AS VARCHAR)), '"versionid"') > 0
            ELSE FALSE
        END AS has_delete_versions,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-copy-source"') > 0 THEN c.rp ->> '$."x-amz-copy-source"'
        END AS copy_source
    FROM in_window AS c
    WHERE c.copy_rank = 1
),

sourced AS (
    SELECT
        p.*,
        -- x-amz-copy-source: URL-encoded `[/]bucket/key[?versionId=...]` or an access-point
        -- object ARN; the query string is split off before decoding.
        regexp_replace(
            url_decode(
                CASE
                    WHEN strpos(p.copy_source, '?') > 0
                        THEN substr(p.copy_source, 1, strpos(p.copy_source, '?') - 1)
                    ELSE p.copy_source
                END
            ),
            '^/',
            ''
        ) AS source_path,
        coalesce(regexp_matches(p.copy_source, '[?&]versionId=[^&]'), FALSE) AS source_has_version
    FROM parsed AS p
),

resolved AS (
    SELECT
        s.*,
        CASE
            WHEN s.source_path LIKE 'arn:%' THEN s.source_path
            WHEN strpos(s.source_path, '/') > 1
                THEN 'arn:' || s.partition_name || ':s3:::' || s.source_path
        END AS source_arn
    FROM sourced AS s
),

objects AS (
    SELECT
        r.*,
        coalesce(
            -- The destination object: the first logged object ARN that is not the source.
            list_filter(
                r.resources,
                lambda x: x.type = 'AWS::S3::Object'
                    AND x.arn IS NOT NULL
                    AND x.arn IS DISTINCT FROM r.source_arn
            )[1].arn,
            'arn:' || r.partition_name || ':s3:::' || r.rp_bucket || '/' || r.rp_key
        ) AS object_arn,
        coalesce(
            r.rp_bucket,
            r.resource_bucket,
            nullif(
                regexp_extract(
                    list_filter(r.resources, lambda x: x.type = 'AWS::S3::Object')[1].arn_prefix,
                    '^arn:[^:]*:s3:::([^/]+)',
                    1
                ),
                ''
            )
        ) AS bucket
    FROM resolved AS r
),

mapped AS (
    SELECT
        o.*,
        m.action,
        m.resource AS resource_kind,
        m.condition,
        m.source AS mapping_source,
        CASE
            WHEN o.event_source <> 's3.amazonaws.com' THEN 'other_s3_service'
            WHEN m.action IS NULL THEN 'no_mapping'
        END AS unmapped_status
    FROM objects AS o
    LEFT JOIN s3_event_actions AS m
        ON o.event_source = 's3.amazonaws.com' AND m.event_name = o.event_name
    WHERE m.condition IS NULL
        OR CASE m.condition
            WHEN 'always' THEN TRUE
            WHEN 'companion' THEN TRUE
            WHEN 'no_version' THEN NOT o.has_version
            WHEN 'version' THEN o.has_version
            WHEN 'acl_header' THEN o.acl IS NOT NULL OR o.has_grant
            WHEN 'tagging_header' THEN o.has_tagging
            WHEN 'retention_header' THEN o.has_retention
            WHEN 'legal_hold_header' THEN o.has_legal_hold
            WHEN 'bypass_header' THEN o.has_bypass
            WHEN 'source_no_version' THEN NOT o.source_has_version
            WHEN 'source_version' THEN o.source_has_version
            WHEN 'no_versions_key' THEN NOT o.has_versions_key
            WHEN 'versions_key' THEN o.has_versions_key
            WHEN 'bucket_acl_header' THEN coalesce(lower(o.acl), 'private') <> 'private' OR o.has_grant
            WHEN 'bucket_lock_header' THEN o.has_bucket_lock
            WHEN 'ownership_header' THEN o.has_ownership
            WHEN 'delete_versions' THEN o.has_delete_versions
            WHEN 'not_found' THEN o.error_code = 'NoSuchKey'
            ELSE FALSE
        END
),

targeted AS (
    SELECT
        x.*,
        CASE x.resource_kind
            WHEN 'object' THEN x.object_arn
            WHEN 'copy_source' THEN x.source_arn
            WHEN 'bucket_objects' THEN 'arn:' || x.partition_name || ':s3:::' || x.bucket || '/*'
            WHEN 'bucket' THEN 'arn:' || x.partition_name || ':s3:::' || x.bucket
            WHEN 'account' THEN '*'
        END AS resource_arn,
        CASE x.resource_kind
            WHEN 'copy_source' THEN x.source_arn
            WHEN 'object' THEN x.object_arn
        END AS key_arn
    FROM mapped AS x
)

SELECT
    t.event_id,
    t.event_time,
    t.role_arn,
    t.function_name,
    t.account,
    t.region,
    t.event_source,
    t.event_name,
    t.read_only,
    t.event_category,
    t.action,
    t.resource_kind,
    t.resource_arn,
    CASE
        WHEN t.resource_kind IN ('object', 'copy_source')
            THEN nullif(regexp_extract(t.key_arn, '^arn:[^:]*:s3:::([^/]+)/', 1), '')
        WHEN t.resource_kind IN ('bucket', 'bucket_objects') THEN t.bucket
    END AS bucket,
    CASE
        WHEN t.key_arn LIKE 'arn:%:s3:::%/%'
            THEN regexp_extract(t.key_arn, '(?s)^arn:[^:]*:s3:::[^/]+/(.*)$', 1)
        WHEN t.key_arn LIKE 'arn:%:accesspoint/%/object/%'
            THEN regexp_extract(t.key_arn, '(?s)^arn:[^/]*/[^/]+/object/(.*)$', 1)
    END AS object_key,
    coalesce(
        t.unmapped_status,
        CASE
            WHEN t.resource_arn IS NULL THEN 'no_resource'
            WHEN t.condition = 'companion' THEN 'companion'
            ELSE 'needed'
        END
    ) AS status,
    t.mapping_source,
    t.error_code,
    t.error_message,
    coalesce(t.error_code, 'success') AS outcome,
    coalesce(t.error_code IN (SELECT a.error_code FROM auth_error_codes AS a), FALSE) AS denied
FROM targeted AS t
