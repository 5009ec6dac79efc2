/*---
title: 月次 注文明細（配送メモ付き）
description: >
  Every order of the previous month with the delivery note, for the logistics team's
  reconciliation. Large: compressed.
database: main
destination: opex-monthly
schedule: monthly
period: previous_month
params:
  min_amount: 0
output:
  file: "order_details_{period}.csv"
  gzip: true
---*/
SELECT
  o.order_id,
  o.member_id,
  o.amount,
  o.status,
  o.ordered_at,
  o.note
FROM orders o
WHERE o.ordered_at >= :period_start
  AND o.ordered_at < :period_end
  AND o.amount >= :min_amount
ORDER BY o.order_id
