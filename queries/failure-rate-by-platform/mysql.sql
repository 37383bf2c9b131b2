-- Failure and intermittent rates per platform. MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
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
      AND p.time > b.until_time - INTERVAL :days DAY
      AND p.time <= b.until_time
      AND j.state = 'completed'
      AND j.result NOT IN ('retry', 'usercancel', 'superseded')
      AND j.tier <= 2
)
SELECT platform,
       COUNT(*) AS jobs,
       COUNT(CASE WHEN result IN ('testfailed', 'busted') THEN 1 END) AS failed,
       COUNT(CASE WHEN classification IN ('intermittent', 'autoclassified intermittent')
                  THEN 1 END) AS intermittent,
       CAST(COUNT(CASE WHEN result IN ('testfailed', 'busted') THEN 1 END) AS DOUBLE)
           / CAST(COUNT(*) AS DOUBLE) AS failure_rate,
       CAST(COUNT(CASE WHEN classification IN ('intermittent', 'autoclassified intermittent')
                       THEN 1 END) AS DOUBLE)
           / CAST(COUNT(*) AS DOUBLE) AS intermittent_rate
FROM finished
GROUP BY platform
HAVING COUNT(*) >= :min_jobs
ORDER BY failure_rate DESC, platform
