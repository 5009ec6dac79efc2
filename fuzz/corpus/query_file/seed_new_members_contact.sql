/*---
title: 月次 新規会員リスト（キャンペーン案内用・マスク済み）
description: >
  Last month's new members in Tokyo and Osaka for the welcome campaign. Contact data is
  masked: the e-mail is a join key (hash) the CRM team can match against their list.
database: main
destination: marketing
schedule: monthly
period: previous_month
output:
  file: "new_members_{variant}_{period}.csv"
  encoding: cp932
mask:
  email: hash
  phone: last4
  name: redact
  birth_date: month
variants:
  - name: tokyo
    params: { prefecture: 東京都 }
  - name: osaka
    params: { prefecture: 大阪府 }
---*/
SELECT
  m.member_id,
  m.name,
  m.email,
  m.phone,
  m.birth_date,
  m.created_at
FROM members m
WHERE m.created_at >= :period_start
  AND m.created_at < :period_end
  AND m.prefecture = :prefecture
ORDER BY m.member_id
