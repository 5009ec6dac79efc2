/*---
title: 休眠会員リスト（2026年に購入なし）
description: >
  Members who signed up before 2026 and have not ordered since 2026-01-01, by
  prefecture, for the reactivation mail. Runs once when merged.
database: main
destination: adhoc
schedule: on-merge-only
params:
  since: "2026-01-01 00:00:00"
output:
  file: "dormant_members.csv"
mask:
  email: email
pii_allowed:
  prefecture: "region only, not personal"
---*/
SELECT
  m.member_id,
  m.email,
  m.prefecture
FROM members m
WHERE m.created_at < :since
  AND NOT EXISTS (
    SELECT 1 FROM orders o
    WHERE o.member_id = m.member_id
      AND o.ordered_at >= :since
  )
ORDER BY m.member_id
