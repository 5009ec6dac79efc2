/*---
title: 月次 売上集計（ステータス別）
description: Orders and revenue of the previous month by order status, for finance.
database: main
destination: opex-monthly
schedule: monthly
period: previous_month
output:
  file: "sales_by_status_{period}.xlsx"
  format: xlsx          # finance opens it in Excel: counts and amounts stay numbers
---*/
SELECT
  o.status,
  COUNT(*) AS orders,
  SUM(o.amount) AS amount_total,
  MIN(o.amount) AS amount_min,
  MAX(o.amount) AS amount_max
FROM orders o
WHERE o.ordered_at >= :period_start
  AND o.ordered_at < :period_end
GROUP BY o.status
ORDER BY o.status
