-- used_keys: staging for the set-wise placement. One row per role × IAM action × resource the
-- role's authorized calls needed (the rows of queries/usage.sql), with the resource's object
-- key generalized as rightsizer.prefixes generalizes it (that module is the reference; a
-- property test holds the two equal). The keys of one bucket (or access point) and role form a
-- tree of `/`-separated names; walking it from the root, the first folder on a key's path that
-- collapses takes the key as `folder/*`. A folder collapses when it has more than 6 children or
-- a child's name looks generated ("data": the key is fragile, as new keys land beside it), or
-- when, below the root, it holds only files ("files"). A key no folder collapses stays exact.
--
-- Parameters:
--   $granularity  'object' (every key exact), 'prefix' (the walk), 'bucket' (every key `*`;
--                 fragile as the walk finds it)
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
-- Columns: role_arn, action, resource_arn, calls, first_seen, last_seen (as in usage.sql);
--   object_base (the ARN
--   the key hangs off: `arn:P:s3:::bucket`, or an access point's `.../object`) and object_key,
--   both NULL when the resource names no single object (a bucket, `bucket/*`, `*`); suffix
--   (escaped: the key, `folder/*` or `*`; the resource itself when there is no key); fragile;
--   functions and example_event_id (as in usage.sql).
WITH used AS (
    SELECT
        c.role_arn,
        u.need.action AS action,
        u.need.resource AS resource_arn,
        count(*) AS calls,
        min(c.event_time) AS first_seen,
        max(c.event_time) AS last_seen,
        -- Not list(DISTINCT ... ORDER BY ...): DuckDB cannot spill such an aggregate, one per object.
        list_sort(list_distinct(list(c.function_name)
            FILTER (WHERE c.function_name IS NOT NULL))) AS functions,
        min(c.event_id) AS example_event_id
    FROM s3_calls AS c, unnest(c.needs) AS u(need)
    WHERE NOT c.denied
    GROUP BY c.role_arn, u.need.action, u.need.resource
),

based AS (
    -- rightsizer.iam.s3.S3Resource.parse: a bucket's object `arn:P:s3:::bucket/key`, else an
    -- access point's `arn:P:s3:R:A:accesspoint/NAME/object/key`.
    SELECT
        u.*,
        -- regexp_extract gives '' when the pattern does not match.
        coalesce(
            nullif(regexp_extract(u.resource_arn, '^(arn:[^:]*:s3:::[^/]*)/', 1), ''),
            regexp_extract(
                u.resource_arn, '^(arn:[^:]*:s3:[^:]*:[^:]*:accesspoint/[^/]*/object)/', 1
            )
        ) AS base_found
    FROM used AS u
),

located AS (
    SELECT
        b.role_arn,
        b.action,
        b.resource_arn,
        b.calls,
        b.first_seen,
        b.last_seen,
        b.functions,
        b.example_event_id,
        nullif(b.base_found, '') AS object_base,
        CASE
            WHEN b.base_found <> '' THEN substr(b.resource_arn, length(b.base_found) + 2)
        END AS object_key
    FROM based AS b
),

objects AS (
    SELECT
        l.role_arn,
        l.action,
        l.resource_arn,
        l.calls,
        l.first_seen,
        l.last_seen,
        l.functions,
        l.example_event_id,
        CASE WHEN l.object_key <> '*' THEN l.object_base END AS object_base,
        CASE WHEN l.object_key <> '*' THEN l.object_key END AS object_key
    FROM located AS l
),

placed_keys AS (
    -- Each object key with the folder holding it: `depth` slashes deep, `folder` the path
    -- before its last slash ('' at the root), `leaf` its name there.
    SELECT
        o.*,
        length(o.object_key) - length(replace(o.object_key, '/', '')) AS depth,
        split_part(o.object_key, '/', -1) AS leaf
    FROM objects AS o
),

keyed AS (
    SELECT
        k.*,
        CASE
            WHEN k.depth = 0 THEN ''
            ELSE substr(k.object_key, 1, length(k.object_key) - length(k.leaf) - 1)
        END AS folder
    FROM placed_keys AS k
),

holders AS (
    -- The folders holding keys (far fewer than the keys).
    SELECT DISTINCT
        k.role_arn,
        k.object_base,
        k.depth,
        k.folder
    FROM keyed AS k
    WHERE k.object_key IS NOT NULL AND $granularity <> 'object'
),

subfolders AS (
    -- Each folder above a holder, with the name of the folder one level down on the way.
    SELECT
        h.role_arn,
        h.object_base,
        t.above AS depth,
        array_to_string(list_slice(string_split(h.folder, '/'), 1, t.above), '/') AS folder,
        list_extract(string_split(h.folder, '/'), t.above + 1) AS child
    FROM holders AS h, unnest(generate_series(0, h.depth - 1)) AS t(above)
),

children AS (
    -- The names in each folder: files (a key's leaf) and folders; a name can be both.
    SELECT
        c.role_arn,
        c.object_base,
        c.depth,
        c.folder,
        c.child,
        bool_or(c.deeper) AS deeper
    FROM (
        SELECT
            k.role_arn,
            k.object_base,
            k.depth,
            k.folder,
            k.leaf AS child,
            FALSE AS deeper
        FROM keyed AS k
        WHERE k.object_key IS NOT NULL AND $granularity <> 'object'
        UNION ALL
        SELECT
            s.role_arn,
            s.object_base,
            s.depth,
            s.folder,
            s.child,
            TRUE AS deeper
        FROM subfolders AS s
    ) AS c
    GROUP BY c.role_arn, c.object_base, c.depth, c.folder, c.child
),

sizes AS MATERIALIZED (
    SELECT
        c.role_arn,
        c.object_base,
        c.depth,
        c.folder,
        count(*) AS names,
        bool_or(c.deeper) AS deeper
    FROM children AS c
    GROUP BY c.role_arn, c.object_base, c.depth, c.folder
),

named AS (
    -- Names are judged only in folders of at most 6: a larger one collapses anyway.
    SELECT
        c.role_arn,
        c.object_base,
        c.depth,
        c.folder,
        c.child,
        CASE
            WHEN strpos(c.child, '.') > 0 THEN regexp_extract(c.child, '^(?s)(.*)\.', 1)
            ELSE c.child
        END AS stem
    FROM children AS c
    INNER JOIN sizes AS z
        ON
            z.role_arn = c.role_arn
            AND z.object_base = c.object_base
            AND z.depth = c.depth
            AND z.folder = c.folder
    WHERE z.names <= 6
),

judged AS (
    -- prefixes.looks_generated (on the name and on its stem before the last dot) and
    -- prefixes._NUMBERED_FILE; `\p{Nd}` is Python's `\d`, and `\n?$` its `$`.
    SELECT
        n.role_arn,
        n.object_base,
        n.depth,
        n.folder,
        bool_or(
            regexp_matches(
                n.child,
                '^(?:\p{Nd}+'
                || '|\p{Nd}{4}-\p{Nd}{2}(?:-\p{Nd}{2})?'
                || '(?:[T_ ]?\p{Nd}{2}[:\-]?\p{Nd}{2}(?:[:\-]?\p{Nd}{2})?Z?)?'
                || '|[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}'
                || '|[A-Za-z_]+=.*)\n?$'
            )
            OR regexp_matches(
                n.stem,
                '^(?:\p{Nd}+'
                || '|\p{Nd}{4}-\p{Nd}{2}(?:-\p{Nd}{2})?'
                || '(?:[T_ ]?\p{Nd}{2}[:\-]?\p{Nd}{2}(?:[:\-]?\p{Nd}{2})?Z?)?'
                || '|[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}'
                || '|[A-Za-z_]+=.*)\n?$'
            )
            -- A hash: twelve or more lowercase hex digits, at least one of them a digit.
            OR (
                regexp_matches(n.child, '^[0-9a-f]{12,}\n?$')
                AND regexp_matches(n.child, '[0-9]')
            )
            OR (
                regexp_matches(n.stem, '^[0-9a-f]{12,}\n?$')
                AND regexp_matches(n.stem, '[0-9]')
            )
            OR regexp_matches(n.child, '\p{Nd}{3,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}')
        ) AS generated
    FROM named AS n
    GROUP BY n.role_arn, n.object_base, n.depth, n.folder
),

folders AS MATERIALIZED (
    SELECT
        z.role_arn,
        z.object_base,
        z.depth,
        z.folder,
        CASE
            WHEN z.names > 6 OR coalesce(j.generated, FALSE) THEN 'data'
            WHEN z.depth > 0 AND NOT z.deeper THEN 'files'
        END AS collapse
    FROM sizes AS z
    LEFT JOIN judged AS j
        ON
            j.role_arn = z.role_arn
            AND j.object_base = z.object_base
            AND j.depth = z.depth
            AND j.folder = z.folder
),

ancestors AS (
    -- Each folder with the folders above it (and itself), to find the first that collapses.
    SELECT
        f.role_arn,
        f.object_base,
        f.depth,
        f.folder,
        t.above,
        array_to_string(list_slice(string_split(f.folder, '/'), 1, t.above), '/') AS above_folder
    FROM folders AS f, unnest(generate_series(0, f.depth)) AS t(above)
),

collapsed AS (
    -- A key takes the first collapse above it: that of the folder holding it.
    SELECT
        a.role_arn,
        a.object_base,
        a.depth,
        a.folder,
        arg_min(
            CASE
                WHEN a.above = 0 THEN '*'
                ELSE replace(
                    replace(replace(a.above_folder, '$', '${$}'), '*', '${*}'), '?', '${?}'
                ) || '/*'
            END,
            a.above
        ) AS suffix,
        arg_min(f.collapse, a.above) = 'data' AS fragile
    FROM ancestors AS a
    INNER JOIN folders AS f
        ON
            f.role_arn = a.role_arn
            AND f.object_base = a.object_base
            AND f.depth = a.above
            AND f.folder = a.above_folder
    WHERE f.collapse IS NOT NULL
    GROUP BY a.role_arn, a.object_base, a.depth, a.folder
)

SELECT
    o.role_arn,
    o.action,
    o.resource_arn,
    o.calls,
    o.first_seen,
    o.last_seen,
    o.object_base,
    o.object_key,
    CASE
        WHEN o.object_key IS NULL THEN o.resource_arn
        WHEN $granularity = 'bucket' THEN '*'
        WHEN $granularity = 'prefix' AND c.suffix IS NOT NULL THEN c.suffix
        ELSE replace(replace(replace(o.object_key, '$', '${$}'), '*', '${*}'), '?', '${?}')
    END AS suffix,
    $granularity <> 'object' AND coalesce(c.fragile, FALSE) AS fragile,
    o.functions,
    o.example_event_id
FROM keyed AS o
LEFT JOIN collapsed AS c
    ON
        c.role_arn = o.role_arn
        AND c.object_base = o.object_base
        AND c.depth = o.depth
        AND c.folder = o.folder
