/*---
title: 月次 新規会員数（都道府県別）
description: >
  New members per prefecture for the previous month. Requested by the operations team
  for the monthly KPI sheet.
database: main
destination: opex-monthly
schedule: monthly
period: previous_month
output:
  file: "signups_by_prefecture_{period}.csv"
  encoding: utf-8-bom
---*/
SELECT
  m.prefecture,
  COUNT(*) AS signups
FROM members m
WHERE m.created_at >= :period_start
  AND m.created_at < :period_end
GROUP BY m.prefecture
ORDER BY signups DESC, m.prefecture
