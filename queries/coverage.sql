-- coverage: S3 data events observed per trail account and region in the window, split into
-- reads and writes, from every principal. When the trail's event selectors are unknown, a
-- region with no read (write) data events at all is taken to have no read (write) data-event
-- logging, so object-level permissions there are "unknown", never "unused".
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: events.
SELECT
    coalesce(e.recipient_account, e.principal_account) AS account,
    e.aws_region AS region,
    count(*) FILTER (WHERE e.read_only) AS read_events,
    count(*) FILTER (WHERE NOT e.read_only) AS write_events
FROM events AS e
WHERE e.event_time >= $window_start
    AND e.event_time < $window_end
    AND e.event_source = 's3.amazonaws.com'
    -- eventCategory exists since 1.07; older records only say managementEvent = false.
    AND coalesce(e.event_category, CASE WHEN NOT e.management_event THEN 'Data' END) = 'Data'
GROUP BY coalesce(e.recipient_account, e.principal_account), e.aws_region
ORDER BY account, region
