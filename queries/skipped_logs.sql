-- skipped_logs: log files skipped as unreadable whose delivery time falls in the window (plus
-- the day of late delivery the listing also reads), with the account, region and delivery
-- time their key names. The calls they held are missing from every other query.
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: skipped_files.
WITH parsed AS (
    -- One regexp_extract per group of the key's pattern (a struct of named groups is DuckDB's
    -- alone).
    SELECT
        s.source_key,
        s.reason,
        regexp_extract(
            s.source_key,
            'AWSLogs/(?:o-[a-z0-9]+/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/.*_([0-9]{8}T[0-9]{4})Z_',
            1
        ) AS account,
        regexp_extract(
            s.source_key,
            'AWSLogs/(?:o-[a-z0-9]+/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/.*_([0-9]{8}T[0-9]{4})Z_',
            2
        ) AS region,
        regexp_extract(
            s.source_key,
            'AWSLogs/(?:o-[a-z0-9]+/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/.*_([0-9]{8}T[0-9]{4})Z_',
            3
        ) AS stamp
    FROM skipped_files AS s
),

dated AS (
    SELECT
        p.source_key,
        p.reason,
        nullif(p.account, '') AS account,
        nullif(p.region, '') AS region,
        -- yyyymmddThhmm as a timestamp's text; NULL when it names no time.
        try_cast(
            substr(p.stamp, 1, 4) || '-' || substr(p.stamp, 5, 2) || '-' || substr(p.stamp, 7, 2)
            || ' ' || substr(p.stamp, 10, 2) || ':' || substr(p.stamp, 12, 2) || ':00'
            AS TIMESTAMP
        ) AS delivered_at
    FROM parsed AS p
)

SELECT d.source_key, d.reason, d.account, d.region, d.delivered_at
FROM dated AS d
WHERE d.delivered_at IS NULL
    OR (
        d.delivered_at >= $window_start
        AND d.delivered_at < $window_end + INTERVAL 1 DAY
    )
ORDER BY d.source_key
