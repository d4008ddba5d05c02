-- placement_keys: the keys of some of one role's placement groups (queries/role_groups.sql),
-- for the groups that today's grants do not cover whole, to be placed one by one.
--
-- Parameters:
--   $role_arn  the role
--   $kind      'used' or 'companion'
-- Reads: the staging tables role_perms and key_folders, and the temp table
--   wanted_groups(action, object_base, suffix, fragile) naming the groups.
WITH targeted AS (
    -- As queries/placement_groups.sql: the key's folder's suffix, else the key itself.
    SELECT
        p.action,
        p.resource_arn,
        p.calls,
        p.first_seen,
        p.last_seen,
        p.object_base,
        p.object_key,
        p.functions,
        p.example_event_id,
        CASE
            WHEN p.object_key IS NULL THEN p.resource_arn
            ELSE coalesce(
                f.suffix,
                replace(replace(replace(p.object_key, '$', '${$}'), '*', '${*}'), '?', '${?}')
            )
        END AS suffix,
        coalesce(f.fragile, FALSE) AS fragile
    FROM role_perms AS p
    LEFT JOIN key_folders AS f
        ON
            f.role_arn = $role_arn
            AND f.object_base = p.object_base
            AND f.depth = p.depth
            AND f.folder = p.folder
    WHERE p.role_arn = $role_arn AND p.kind = $kind
)

SELECT
    t.action,
    t.object_base,
    t.suffix,
    t.fragile,
    1 AS keys,
    t.calls,
    t.first_seen,
    t.last_seen,
    t.resource_arn,
    t.object_key,
    t.functions,
    t.example_event_id
FROM targeted AS t
INNER JOIN wanted_groups AS w
    ON
        w.action = t.action
        AND w.object_base = t.object_base
        AND w.suffix = t.suffix
        AND w.fragile = t.fragile
