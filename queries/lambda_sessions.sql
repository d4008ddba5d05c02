-- lambda_sessions: Lambda execution roles found from the logs alone: role sessions whose
-- user agent carries exec-env/AWS_Lambda (function code). The role is the session issuer's
-- ARN (it keeps the role path); the session name is the function name.
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: events.
SELECT
    e.role_arn,
    e.session_name AS function_name,
    count(*) AS events,
    min(e.event_time) AS first_seen,
    max(e.event_time) AS last_seen
FROM events AS e
WHERE e.event_time >= $window_start
    AND e.event_time < $window_end
    AND e.role_arn IS NOT NULL
    AND strpos(e.user_agent, 'exec-env/AWS_Lambda') > 0
GROUP BY e.role_arn, e.session_name
ORDER BY e.role_arn, e.session_name
