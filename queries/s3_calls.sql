-- s3_calls: staging. One row per S3-family call in the window, with the list of
-- (IAM action, resource ARN) pairs it needed per the mapping table. Calls the table cannot map
-- stay in, with a status saying why, so nothing is dropped silently.
--
-- Parameters:
--   $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
--   $all_principals            BOOLEAN; false = only the roles listed in scope_roles
-- Reads: events, and the temp tables scope_roles(role_arn), s3_event_actions and
--   auth_error_codes (rightsizer.mapping.load_mapping_tables).
-- Columns (only those later queries read: the table holds every call of the window for the
-- whole analysis): event_id, event_time, role_arn (sessionIssuer.arn, else the identity ARN),
--   function_name (the session name), region, event_source, event_name, copy_source_arn,
--   source_unplaced (the call reads a copy source the record names in no form read here),
--   auth_object_arn, auth_bucket_arn and auth_objects_base (the ARNs IAM authorizes the call
--   on: the access point's when it went through one, else the object's and the bucket's; the
--   base of its objects), needs STRUCT(action, resource)[] (sorted by action), unresolved
--   VARCHAR[] (needed actions whose resource the record does not show), status ('mapped' |
--   'no_mapping' | 'other_s3_service' | 'no_resource'), error_code, error_message, outcome
--   ('success' or the error code), denied (an authorization failure: never usage).
WITH condition_bits AS (
    -- Each condition of the mapping table as a bit of request_flags that must be set (or
    -- clear); 'always' needs nothing.
    SELECT *
    FROM (
        VALUES
            ('always', 0, TRUE),
            ('version', 1, TRUE),
            ('no_version', 1, FALSE),
            ('acl_header', 2, TRUE),
            ('tagging_header', 4, TRUE),
            ('retention_header', 8, TRUE),
            ('legal_hold_header', 16, TRUE),
            ('bypass_header', 32, TRUE),
            ('source_version', 64, TRUE),
            ('source_no_version', 64, FALSE),
            ('versions_key', 128, TRUE),
            ('no_versions_key', 128, FALSE),
            ('bucket_acl_header', 256, TRUE),
            ('bucket_lock_header', 512, TRUE),
            ('ownership_header', 1024, TRUE),
            ('delete_versions', 2048, TRUE),
            ('not_found', 4096, TRUE)
    ) AS b (condition, bit, must_be_set)
),

foreign_copies AS (
    -- One call delivered to several accounts: each copy has its own eventID but the same
    -- sharedEventID. Drop the copies that reached another account when the caller's own
    -- account has one.
    SELECT e.event_id
    FROM events AS e
    WHERE e.shared_event_id IS NOT NULL
        AND e.event_time >= $window_start
        AND e.event_time < $window_end
        AND e.recipient_account IS DISTINCT FROM split_part(
            coalesce(e.role_arn, e.principal_arn), ':', 5
        )
        AND EXISTS (
            SELECT 1
            FROM events AS own
            WHERE own.shared_event_id = e.shared_event_id
                AND own.event_id <> e.event_id
                AND own.event_source = e.event_source
                AND own.event_name = e.event_name
                AND own.recipient_account = split_part(
                    coalesce(own.role_arn, own.principal_arn), ':', 5
                )
        )
),

in_window AS (
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
        -- The partition comes from the record: the principal's ARN, else a resource ARN.
        nullif(
            split_part(
                coalesce(
                    CASE WHEN e.role_arn LIKE 'arn:%' THEN e.role_arn END,
                    CASE WHEN e.principal_arn LIKE 'arn:%' THEN e.principal_arn END,
                    list_filter(e.resources, lambda r: r.arn LIKE 'arn:%')[1].arn,
                    list_filter(e.resources, lambda r: r.arn_prefix LIKE 'arn:%')[1].arn_prefix
                ),
                ':',
                2
            ),
            ''
        ) AS partition_name
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
        AND (
            e.shared_event_id IS NULL
            OR e.event_id NOT IN (SELECT d.event_id FROM foreign_copies AS d)
        )
),

headers AS (
    -- Header values are looked up only when their name occurs in the text (JSON paths cost),
    -- and one scan first tells whether any x-amz-* header was logged at all. Some records log
    -- a header as a one-element list (["private"]): `[0]` reads those.
    SELECT
        c.*,
        -- The text again, only where it holds an x-amz-* header: later scans skip the rest.
        CASE WHEN strpos(c.rp_text, '"x-amz-') > 0 THEN c.rp_text END AS amz_text,
        CASE
            WHEN strpos(c.rp_text, '"versionId"') > 0 THEN nullif(c.rp ->> '$.versionId', '')
        END AS version_id,
        CASE
            WHEN strpos(c.rp_text, '"x-amz-acl"') > 0
                THEN coalesce(c.rp ->> '$."x-amz-acl"[0]', c.rp ->> '$."x-amz-acl"')
        END AS acl
    FROM in_window AS c
),

parsed AS (
    -- CASE, not AND: DuckDB evaluates a THEN branch only for the rows that reach it, but both
    -- sides of an AND for every row.
    SELECT
        h.*,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-grant-') > 0
                THEN coalesce(
                    h.rp ->> '$."x-amz-grant-read"',
                    h.rp ->> '$."x-amz-grant-write"',
                    h.rp ->> '$."x-amz-grant-read-acp"',
                    h.rp ->> '$."x-amz-grant-write-acp"',
                    h.rp ->> '$."x-amz-grant-full-control"'
                ) IS NOT NULL
            ELSE FALSE
        END AS has_grant,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-tagging"') > 0
                THEN h.rp ->> '$."x-amz-tagging"' IS NOT NULL
            ELSE FALSE
        END AS has_tagging,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-object-lock-') > 0
                THEN coalesce(
                    h.rp ->> '$."x-amz-object-lock-mode"',
                    h.rp ->> '$."x-amz-object-lock-retain-until-date"'
                ) IS NOT NULL
            ELSE FALSE
        END AS has_retention,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-object-lock-legal-hold"') > 0
                THEN h.rp ->> '$."x-amz-object-lock-legal-hold"' IS NOT NULL
            ELSE FALSE
        END AS has_legal_hold,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-bypass-governance-retention"') > 0
                THEN lower(
                    coalesce(
                        h.rp ->> '$."x-amz-bypass-governance-retention"[0]',
                        h.rp ->> '$."x-amz-bypass-governance-retention"',
                        'false'
                    )
                ) <> 'false'
            ELSE FALSE
        END AS has_bypass,
        CASE
            WHEN h.event_name <> 'ListObjects' THEN FALSE
            WHEN strpos(h.rp_text, '"versions"') > 0 THEN h.rp ->> '$.versions' IS NOT NULL
            ELSE FALSE
        END AS has_versions_key,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-bucket-object-lock-enabled"') > 0
                THEN lower(
                    coalesce(
                        h.rp ->> '$."x-amz-bucket-object-lock-enabled"[0]',
                        h.rp ->> '$."x-amz-bucket-object-lock-enabled"',
                        ''
                    )
                ) = 'true'
            ELSE FALSE
        END AS has_bucket_lock,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-object-ownership"') > 0
                THEN h.rp ->> '$."x-amz-object-ownership"' IS NOT NULL
            ELSE FALSE
        END AS has_ownership,
        CASE
            WHEN h.event_name <> 'DeleteObjects' THEN FALSE
            WHEN strpos(h.rp_text, '"delete"') > 0
                THEN strpos(lower(CAST(h.rp -> '$.delete' AS VARCHAR)), '"versionid"') > 0
            ELSE FALSE
        END AS has_delete_versions,
        CASE
            WHEN strpos(h.amz_text, '"x-amz-copy-source"') > 0
                THEN h.rp ->> '$."x-amz-copy-source"'
        END AS copy_source
    FROM headers AS h
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
            -- An access point alias (names ending -s3alias or --ol-s3, which buckets may not
            -- use) does not say which access point: the source stays unknown.
            WHEN regexp_matches(split_part(s.source_path, '/', 1), '(-s3alias|--ol-s3)$')
                THEN NULL
            WHEN strpos(s.source_path, '/') > 1
                THEN 'arn:' || s.partition_name || ':s3:::' || s.source_path
        END AS copy_source_arn
    FROM sourced AS s
),

objects AS (
    SELECT
        r.*,
        -- The request's object: for a copy, the logged object ARN its bucketName and key name
        -- (the source may be listed too, first, in another form than x-amz-copy-source); else
        -- the first logged object ARN that is not the copy source.
        coalesce(
            CASE
                WHEN r.copy_source IS NOT NULL
                    THEN list_filter(
                        r.resources,
                        lambda x: x.type = 'AWS::S3::Object'
                            AND x.arn = 'arn:' || r.partition_name || ':s3:::'
                            || (r.rp ->> '$.bucketName') || '/' || (r.rp ->> '$.key')
                    )[1].arn
            END,
            list_filter(
                r.resources,
                lambda x: x.type = 'AWS::S3::Object'
                    AND x.arn IS NOT NULL
                    AND x.arn IS DISTINCT FROM r.copy_source_arn
            )[1].arn
        ) AS logged_object_arn,
        -- A call through an access point is authorized on the access point's ARN (S3 User
        -- Guide, access points and IAM policies); its record lists it among the resources, and
        -- an SDK call may name it as the bucket.
        -- A copy may list its source's access point as well: another one is the destination's.
        -- With only the source's listed, the destination is read as going through it too (the
        -- reading the shape of real records cannot yet rule out).
        coalesce(
            list_filter(
                r.resources,
                lambda x: x.type = 'AWS::S3::AccessPoint'
                    AND x.arn LIKE 'arn:%'
                    AND r.copy_source_arn NOT LIKE x.arn || '/object/%'
            )[1].arn,
            list_filter(
                r.resources, lambda x: x.type = 'AWS::S3::AccessPoint' AND x.arn LIKE 'arn:%'
            )[1].arn,
            CASE
                WHEN strpos(r.rp_text, ':accesspoint/') > 0
                    THEN regexp_extract(
                        r.rp ->> '$.bucketName', '^(arn:[^:]+:s3:[^:]*:[^:]*:accesspoint/[^/]+)$', 1
                    )
            END
        ) AS access_point_arn
    FROM resolved AS r
),

named AS (
    -- bucketName and key are read from the parameters only when resources[] lacks the object.
    SELECT
        o.*,
        CASE
            WHEN o.logged_object_arn IS NULL AND o.access_point_arn IS NULL
                THEN nullif(o.rp ->> '$.bucketName', '')
        END AS parameter_bucket,
        CASE WHEN o.logged_object_arn IS NULL THEN nullif(o.rp ->> '$.key', '') END AS parameter_key
    FROM objects AS o
),

buckets AS (
    SELECT
        n.*,
        coalesce(
            n.logged_object_arn,
            'arn:' || n.partition_name || ':s3:::' || n.parameter_bucket || '/' || n.parameter_key
        ) AS object_arn,
        -- CASE keeps the costlier fallbacks for the few rows that need them.
        CASE
            WHEN n.logged_object_arn LIKE 'arn:%:s3:::%/%'
                THEN split_part(
                    substr(n.logged_object_arn, strpos(n.logged_object_arn, ':::') + 3), '/', 1
                )
            WHEN n.parameter_bucket IS NOT NULL THEN n.parameter_bucket
            ELSE coalesce(
                nullif(
                    regexp_extract(
                        list_filter(n.resources, lambda x: x.type = 'AWS::S3::Bucket')[1].arn,
                        '^arn:[^:]*:s3:::([^/]+)$',
                        1
                    ),
                    ''
                ),
                nullif(
                    regexp_extract(
                        list_filter(
                            n.resources, lambda x: x.type = 'AWS::S3::Object'
                        )[1].arn_prefix,
                        '^arn:[^:]*:s3:::([^/]+)',
                        1
                    ),
                    ''
                )
            )
        END AS bucket_name
    FROM named AS n
),

flagged AS MATERIALIZED (
    SELECT
        b.event_id,
        b.event_time,
        b.role_arn,
        b.function_name,
        b.account,
        b.region,
        b.event_source,
        b.event_name,
        b.read_only,
        b.event_category,
        b.bucket_name,
        b.object_arn,
        'arn:' || b.partition_name || ':s3:::' || b.bucket_name AS bucket_arn,
        b.copy_source_arn,
        b.copy_source IS NOT NULL AS names_copy_source,
        nullif(b.access_point_arn, '') AS access_point_arn,
        b.error_code,
        b.error_message,
        CASE WHEN b.version_id IS NOT NULL THEN 1 ELSE 0 END
        + CASE WHEN b.acl IS NOT NULL OR b.has_grant THEN 2 ELSE 0 END
        + CASE WHEN b.has_tagging THEN 4 ELSE 0 END
        + CASE WHEN b.has_retention THEN 8 ELSE 0 END
        + CASE WHEN b.has_legal_hold THEN 16 ELSE 0 END
        + CASE WHEN b.has_bypass THEN 32 ELSE 0 END
        + CASE WHEN b.source_has_version THEN 64 ELSE 0 END
        + CASE WHEN b.has_versions_key THEN 128 ELSE 0 END
        + CASE
            WHEN coalesce(lower(b.acl), 'private') <> 'private' OR b.has_grant THEN 256 ELSE 0
        END
        + CASE WHEN b.has_bucket_lock THEN 512 ELSE 0 END
        + CASE WHEN b.has_ownership THEN 1024 ELSE 0 END
        + CASE WHEN b.has_delete_versions THEN 2048 ELSE 0 END
        + CASE WHEN b.error_code = 'NoSuchKey' THEN 4096 ELSE 0 END AS request_flags
    FROM buckets AS b
),

authorized AS (
    SELECT
        f.*,
        CASE
            WHEN f.object_arn LIKE 'arn:%:s3:%:%:accesspoint/%/object/%' THEN f.object_arn
            WHEN f.access_point_arn IS NOT NULL AND f.object_arn LIKE 'arn:%:s3:::%/%'
                THEN f.access_point_arn || '/object/'
                || substr(f.object_arn, strpos(f.object_arn, ':::') + 4 + length(f.bucket_name))
            ELSE f.object_arn
        END AS auth_object_arn,
        coalesce(f.access_point_arn, f.bucket_arn) AS auth_bucket_arn,
        coalesce(f.access_point_arn || '/object', f.bucket_arn) AS auth_objects_base
    FROM flagged AS f
),

combinations AS (
    -- The conditions are evaluated once per distinct (eventName, flags), not once per call.
    SELECT DISTINCT f.event_source, f.event_name, f.request_flags
    FROM flagged AS f
),

fired AS (
    SELECT
        k.event_source,
        k.event_name,
        k.request_flags,
        count(m.action) > 0 AS known,
        list(
            CAST(ROW(m.action, m.resource) AS STRUCT(action VARCHAR, kind VARCHAR))
            ORDER BY m.action, m.resource
        ) FILTER (
            WHERE m.condition <> 'companion'
            AND (b.bit = 0 OR ((k.request_flags & b.bit) <> 0) = b.must_be_set)
        ) AS rules
    FROM combinations AS k
    LEFT JOIN s3_event_actions AS m
        ON k.event_source = 's3.amazonaws.com' AND m.event_name = k.event_name
    LEFT JOIN condition_bits AS b ON b.condition = m.condition
    GROUP BY k.event_source, k.event_name, k.request_flags
),

targeted AS (
    SELECT
        f.*,
        x.known,
        x.rules,
        list_transform(
            x.rules,
            lambda m: CAST(
                ROW(
                    m.action,
                    CASE m.kind
                        WHEN 'object' THEN f.auth_object_arn
                        WHEN 'copy_source' THEN f.copy_source_arn
                        WHEN 'bucket_objects' THEN f.auth_objects_base || '/*'
                        WHEN 'bucket' THEN f.auth_bucket_arn
                        WHEN 'account' THEN '*'
                    END
                )
                AS STRUCT(action VARCHAR, resource VARCHAR)
            )
        ) AS targets
    FROM authorized AS f
    INNER JOIN fired AS x
        ON
            f.event_source = x.event_source
            AND f.event_name = x.event_name
            AND f.request_flags = x.request_flags
),

resolved_targets AS (
    SELECT
        t.*,
        coalesce(list_filter(t.targets, lambda n: n.resource IS NOT NULL), []) AS needs
    FROM targeted AS t
)

SELECT
    t.event_id,
    t.event_time,
    t.role_arn,
    t.function_name,
    t.region,
    t.event_source,
    t.event_name,
    t.copy_source_arn,
    -- A copy source read whose object the record does not name (or names in a form not read
    -- here): a mapped copy's source actions, or an unmapped call's x-amz-copy-source.
    t.copy_source_arn IS NULL AND (
        t.names_copy_source
        OR coalesce(list_contains(list_transform(t.rules, lambda m: m.kind), 'copy_source'), FALSE)
    ) AS source_unplaced,
    t.auth_object_arn,
    t.auth_bucket_arn,
    t.auth_objects_base,
    t.needs,
    CASE
        WHEN array_length(t.needs) < array_length(coalesce(t.targets, []))
            THEN list_transform(
                list_filter(t.targets, lambda n: n.resource IS NULL), lambda n: n.action
            )
        ELSE []
    END AS unresolved,
    CASE
        WHEN t.event_source <> 's3.amazonaws.com' THEN 'other_s3_service'
        WHEN NOT t.known THEN 'no_mapping'
        WHEN array_length(t.needs) < array_length(coalesce(t.targets, [])) THEN 'no_resource'
        ELSE 'mapped'
    END AS status,
    t.error_code,
    t.error_message,
    coalesce(t.error_code, 'success') AS outcome,
    coalesce(t.error_code IN (SELECT a.error_code FROM auth_error_codes AS a), FALSE) AS denied
FROM resolved_targets AS t
