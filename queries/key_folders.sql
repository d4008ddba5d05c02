-- key_folders: staging for the set-wise placement. How the object keys of the used permissions
-- (queries/role_perms.sql; companions follow them) generalize, folder by folder, as
-- rightsizer.prefixes generalizes them (that module is the reference; a property test holds
-- the two equal). The keys of one bucket (or access point) and role form a tree of
-- `/`-separated names; walking it from the root, the first folder on a key's path that
-- collapses takes the key as `folder/*`. A folder collapses when it has more
-- than 6 children or a child's name looks generated ("data": the key is fragile, as new keys
-- land beside it), or when, below the root, it holds only files ("files"). A key no folder
-- collapses stays exact. One row per folder holding keys, not per key: a key's generalized
-- suffix is its folder's, else the key itself (escaped), as queries/placement_groups.sql and
-- queries/placement_keys.sql read it.
--
-- Parameters:
--   $granularity  'object' (every key exact: no rows), 'prefix' (the walk), 'bucket' (every
--                 key `*`; fragile as the walk finds it)
-- Reads: the staging table role_perms (queries/role_perms.sql, materialized first).
-- Columns: role_arn, object_base, depth, folder (as in role_perms: the keys' folder); suffix
--   (escaped: `folder/*` or `*`) and fragile, for every key in that folder.
WITH holders AS (
    -- The folders holding keys (far fewer than the keys).
    SELECT DISTINCT
        k.role_arn,
        k.object_base,
        k.depth,
        k.folder
    FROM role_perms AS k
    WHERE k.kind = 'used' AND k.object_key IS NOT NULL AND $granularity <> 'object'
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
            split_part(k.object_key, '/', -1) AS child,
            FALSE AS deeper
        FROM role_perms AS k
        WHERE k.kind = 'used' AND k.object_key IS NOT NULL AND $granularity <> 'object'
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
    -- prefixes._NUMBERED_FILE (on the name); `\p{Nd}` is Python's `\d`, and `\n?$` its `$`.
    SELECT
        n.role_arn,
        n.object_base,
        n.depth,
        n.folder,
        bool_or(
            regexp_matches(
                t.name,
                '^(?:\p{Nd}+'
                || '|\p{Nd}{4}-\p{Nd}{2}(?:-\p{Nd}{2})?'
                || '(?:[T_ ]?\p{Nd}{2}[:\-]?\p{Nd}{2}(?:[:\-]?\p{Nd}{2})?Z?)?'
                || '|[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}'
                || '|[A-Za-z_]+=.*)\n?$'
            )
            -- A hash: twelve or more lowercase hex digits, at least one of them a digit.
            OR (
                regexp_matches(t.name, '^[0-9a-f]{12,}\n?$')
                AND regexp_matches(t.name, '[0-9]')
            )
            OR regexp_matches(n.child, '\p{Nd}{3,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}')
        ) AS generated
    FROM named AS n, unnest([n.child, n.stem]) AS t(name)
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

-- Every folder holding keys under 'bucket' (its keys all `*`), else those with a collapse above.
SELECT
    h.role_arn,
    h.object_base,
    h.depth,
    h.folder,
    CASE WHEN $granularity = 'bucket' THEN '*' ELSE c.suffix END AS suffix,
    coalesce(c.fragile, FALSE) AS fragile
FROM holders AS h
LEFT JOIN collapsed AS c
    ON
        c.role_arn = h.role_arn
        AND c.object_base = h.object_base
        AND c.depth = h.depth
        AND c.folder = h.folder
WHERE $granularity = 'bucket' OR c.suffix IS NOT NULL
