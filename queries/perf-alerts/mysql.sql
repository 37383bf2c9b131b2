-- Perf alerts with their series and pushes. MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
)
SELECT s.id AS summary_id,
       s.created,
       s.status AS summary_status,
       a.id AS alert_id,
       a.is_regression,
       a.status AS alert_status,
       a.amount_pct,
       a.prev_value,
       a.new_value,
       sig.signature_hash,
       sig.suite,
       sig.test,
       mp.platform,
       p.revision,
       pp.revision AS prev_revision
FROM performance_alert_summary s
JOIN performance_framework pf ON pf.id = s.framework_id
JOIN repository r ON r.id = s.repository_id
JOIN push p ON p.id = s.push_id
JOIN push pp ON pp.id = s.prev_push_id
JOIN performance_alert a ON a.summary_id = s.id
JOIN performance_signature sig ON sig.id = a.series_signature_id
JOIN machine_platform mp ON mp.id = sig.platform_id
CROSS JOIN bounds b
WHERE pf.name = :framework
  AND r.name = :repository
  AND s.created > b.until_time - INTERVAL :days DAY
  AND s.created <= b.until_time
ORDER BY s.created DESC, a.id
