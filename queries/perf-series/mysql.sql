-- One perf series; filters on repository_id + signature_id to use the datum indexes.
-- MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
)
SELECT d.push_timestamp AS push_time,
       d.push_id,
       p.revision,
       d.value,
       d.job_id
FROM performance_signature sig
JOIN repository r ON r.id = sig.repository_id
JOIN performance_framework pf ON pf.id = sig.framework_id
JOIN performance_datum d ON d.repository_id = sig.repository_id AND d.signature_id = sig.id
JOIN push p ON p.id = d.push_id
CROSS JOIN bounds b
WHERE r.name = :repository
  AND pf.name = :framework
  AND sig.signature_hash = :signature_hash
  AND d.push_timestamp > b.until_time - INTERVAL :days DAY
  AND d.push_timestamp <= b.until_time
ORDER BY d.push_timestamp, d.push_id
