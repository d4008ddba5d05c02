-- role_used: one role's used permissions, one row per action × resource, as queries/usage.sql
-- gives them (for the replay, which checks every one, and the rows of a role the IAM snapshot
-- does not hold), streamed from the staging table instead of held.
--
-- Parameters: $role_arn, the role.
-- Reads: the staging table role_perms (queries/role_perms.sql, materialized first).
SELECT
    k.action,
    k.resource_arn,
    k.calls,
    k.first_seen,
    k.last_seen,
    k.functions,
    k.example_event_id
FROM role_perms AS k
WHERE k.role_arn = $role_arn AND k.kind = 'used'
