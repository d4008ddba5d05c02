-- watch_policy_changes: successful changes to IAM role policies, managed policy versions,
-- permissions boundaries and S3 bucket policies from $change_start to the window end, for
-- "denied calls after a policy change" (rightsizer.watch.denied). queries/watch_iam_events.sql
-- says whether the store could hold any.
--
-- Parameters: $change_start, $window_end  TIMESTAMP (UTC)
-- Reads: events.
-- Columns: event_id, event_time, event_name, role_name, policy_arn, bucket (what changed),
--   principal_arn, source_ip, user_agent (who changed it, from where).
SELECT
    e.event_id,
    e.event_time,
    e.event_name,
    e.request_parameters ->> '$.roleName' AS role_name,
    e.request_parameters ->> '$.policyArn' AS policy_arn,
    e.request_parameters ->> '$.bucketName' AS bucket,
    e.principal_arn,
    e.source_ip,
    e.user_agent
FROM events AS e
WHERE e.event_time >= $change_start
    AND e.event_time < $window_end
    AND e.error_code IS NULL
    AND (
        (
            e.event_source = 'iam.amazonaws.com'
            AND e.event_name IN (
                'PutRolePolicy',
                'DeleteRolePolicy',
                'AttachRolePolicy',
                'DetachRolePolicy',
                'PutRolePermissionsBoundary',
                'DeleteRolePermissionsBoundary',
                'CreatePolicyVersion',
                'SetDefaultPolicyVersion'
            )
        )
        OR (
            e.event_source = 's3.amazonaws.com'
            AND e.event_name IN ('PutBucketPolicy', 'DeleteBucketPolicy')
        )
    )
ORDER BY e.event_time, e.event_id
