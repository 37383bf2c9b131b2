-- Failure and intermittent rates per platform. Runs on PostgreSQL and DuckDB.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS timestamp), (SELECT max(time) FROM push)) AS until_time
),
finished AS (
    SELECT mp.platform,
           j.result,
           fc.name AS classification
    FROM job j
    JOIN push p ON p.id = j.push_id
    JOIN repository r ON r.id = p.repository_id
    JOIN machine_platform mp ON mp.id = j.machine_platform_id
    JOIN failure_classification fc ON fc.id = j.failure_classification_id
    CROSS JOIN bounds b
    WHERE r.name = :repository
      AND p.time > b.until_time - :days * interval '1 day'
      AND p.time <= b.until_time
      AND j.state = 'completed'
      AND j.result NOT IN ('retry', 'usercancel', 'superseded')
      AND j.tier <= 2
)
SELECT platform,
       COUNT(*) AS jobs,
       COUNT(*) FILTER (WHERE result IN ('testfailed', 'busted')) AS failed,
       COUNT(*) FILTER (WHERE classification IN ('intermittent', 'autoclassified intermittent'))
           AS intermittent,
       CAST(COUNT(*) FILTER (WHERE result IN ('testfailed', 'busted')) AS double precision)
           / CAST(COUNT(*) AS double precision) AS failure_rate,
       CAST(COUNT(*) FILTER (WHERE classification IN ('intermittent',
                                                      'autoclassified intermittent'))
            AS double precision)
           / CAST(COUNT(*) AS double precision) AS intermittent_rate
FROM finished
GROUP BY platform
HAVING COUNT(*) >= :min_jobs
ORDER BY failure_rate DESC, platform
