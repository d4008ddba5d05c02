-- kms_keys: the SSE-KMS keys each role used through S3: kms Decrypt / GenerateDataKey events
-- under the role's own session that S3 made on its behalf (invokedBy or source
-- fas.s3.amazonaws.com / s3.amazonaws.com). The bucket comes from the encryption context
-- aws:s3:arn (the object ARN, or the bucket ARN with S3 Bucket Keys). Calls Lambda itself
-- makes (invokedBy lambda.amazonaws.com: environment-variable encryption) are not the role's.
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: events, and the temp tables scope_roles(role_arn) and auth_error_codes.
WITH kms AS (
    SELECT
        e.role_arn,
        e.event_name AS operation,
        list_filter(e.resources, lambda r: r.arn LIKE 'arn:%:kms:%:key/%')[1].arn AS key_arn,
        e.request_parameters ->> '$.encryptionContext."aws:s3:arn"' AS s3_arn,
        e.event_time
    FROM events AS e
    WHERE e.event_time >= $window_start
        AND e.event_time < $window_end
        AND e.event_source = 'kms.amazonaws.com'
        AND e.event_name IN ('Decrypt', 'GenerateDataKey')
        AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
        AND (
            e.invoked_by IN ('fas.s3.amazonaws.com', 's3.amazonaws.com')
            OR e.source_ip IN ('fas.s3.amazonaws.com', 's3.amazonaws.com')
        )
        AND coalesce(e.invoked_by, '') <> 'lambda.amazonaws.com'
        -- IS NULL OR, not coalesce(NOT IN): Spark keeps no NULL of a NOT IN inside coalesce.
        AND (
            e.error_code IS NULL
            OR e.error_code NOT IN (SELECT a.error_code FROM auth_error_codes AS a)
        )
)

SELECT
    k.role_arn,
    k.key_arn,
    k.operation,
    nullif(regexp_extract(k.s3_arn, '^(arn:[^:]*:s3:::[^/]+)', 1), '') AS bucket_arn,
    count(*) AS calls,
    min(k.event_time) AS first_seen,
    max(k.event_time) AS last_seen
FROM kms AS k
WHERE k.key_arn IS NOT NULL
GROUP BY k.role_arn, k.key_arn, k.operation, bucket_arn
ORDER BY k.role_arn, k.key_arn, k.operation, bucket_arn
