-- log_days: the UTC days of the window on which the store holds any event, per trail account
-- and region, from every principal. A day without a single event in an account and region is
-- a day the logs cannot vouch for (a trail created, stopped or not yet ingested, a region it
-- does not log): what a role did there is unknown, not "nothing".
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: events.
SELECT
    coalesce(e.recipient_account, e.principal_account) AS account,
    e.aws_region AS region,
    list(DISTINCT CAST(e.event_time AS DATE) ORDER BY CAST(e.event_time AS DATE)) AS days
FROM events AS e
WHERE e.event_time >= $window_start
    AND e.event_time < $window_end
GROUP BY coalesce(e.recipient_account, e.principal_account), e.aws_region
ORDER BY account, region
