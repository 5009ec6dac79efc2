//! The embedded demo: a SQLite database of fake members and orders (Japanese names,
//! prefectures, e-mails, phones), the example queries shipped in `queries/`, and a
//! configuration that points every database at the demo file and every destination at
//! a folder under `./out/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Executor};

/// The example queries, compiled in so the demo runs anywhere.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "queries/monthly/signups_by_prefecture.sql",
        include_str!("../../queries/monthly/signups_by_prefecture.sql"),
    ),
    (
        "queries/monthly/new_members_contact.sql",
        include_str!("../../queries/monthly/new_members_contact.sql"),
    ),
    (
        "queries/monthly/sales_by_status.sql",
        include_str!("../../queries/monthly/sales_by_status.sql"),
    ),
    (
        "queries/monthly/order_details.sql",
        include_str!("../../queries/monthly/order_details.sql"),
    ),
    (
        "queries/adhoc/dormant_members.sql",
        include_str!("../../queries/adhoc/dormant_members.sql"),
    ),
];

/// The schema catalogue of the demo database, with a data owner's marks (shipped as
/// `schema/main.yaml`, the file `sqlcourier schema pull main` writes from it).
pub const SCHEMA: (&str, &str) = ("schema/main.yaml", include_str!("../../schema/main.yaml"));

/// The demo's configuration: the same names as the shipped `sqlcourier.yaml`.
pub fn config_text(out: &Path) -> String {
    format!(
        "databases:\n  main: {{driver: sqlite, url_env: SQLCOURIER_DEMO_DB}}\ndestinations:\n  opex-monthly: {{type: local, path: \"{0}/opex-monthly\"}}\n  marketing: {{type: local, path: \"{0}/marketing\"}}\n  adhoc: {{type: local, path: \"{0}/adhoc\"}}\n",
        out.display()
    )
}

/// A fixed, clearly fake key for `hash` masking in the demo only.
pub const DEMO_KEY: &[u8] = b"sqlcourier-demo-key-not-secret";

const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
];
const GIVEN: &[(&str, &str)] = &[
    ("太郎", "taro"),
    ("花子", "hanako"),
    ("翔", "sho"),
    ("陽菜", "hina"),
    ("蓮", "ren"),
    ("結衣", "yui"),
    ("大翔", "hiroto"),
    ("美咲", "misaki"),
    ("悠真", "yuma"),
    ("葵", "aoi"),
    ("健太", "kenta"),
    ("さくら", "sakura"),
];
const PREFECTURES: &[(&str, u32)] = &[
    ("東京都", 30),
    ("神奈川県", 14),
    ("大阪府", 13),
    ("愛知県", 9),
    ("埼玉県", 9),
    ("千葉県", 8),
    ("兵庫県", 7),
    ("北海道", 6),
    ("福岡県", 6),
    ("静岡県", 4),
    ("京都府", 4),
    ("広島県", 3),
    ("宮城県", 3),
    ("沖縄県", 2),
    ("鹿児島県", 1),
];
const DOMAINS: &[&str] = &["example.com", "example.jp", "example.co.jp", "example.net"];
const STATUSES: &[&str] = &[
    "paid",
    "paid",
    "paid",
    "shipped",
    "shipped",
    "cancelled",
    "refunded",
];
const NOTES: &[&str] = &[
    "",
    "置き配希望",
    "ギフト包装, のし付き",
    "「至急」と記載あり",
    "He said \"ASAP\", please",
    "2個口",
];

/// A small deterministic generator (xorshift64*): the same data on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n`; 0 when `n` is 0 (never a division by zero).
    fn below(&mut self, n: u64) -> u64 {
        self.next().checked_rem(n).unwrap_or(0)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// Creates the demo database at `path` (replacing it) with members and orders spread
/// over the 24 months before `now`.
pub async fn create_database(
    path: &Path,
    members: u32,
    orders: u32,
    now: NaiveDateTime,
) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Off)
        .connect()
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    conn.execute(
        "CREATE TABLE members (
            member_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT,
            prefecture TEXT NOT NULL,
            birth_date TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE orders (
            order_id INTEGER PRIMARY KEY,
            member_id INTEGER NOT NULL REFERENCES members(member_id),
            amount INTEGER NOT NULL,
            status TEXT NOT NULL,
            ordered_at TEXT NOT NULL,
            note TEXT
        );
        CREATE INDEX members_created ON members(created_at);
        CREATE INDEX orders_ordered ON orders(ordered_at);
        CREATE INDEX orders_member ON orders(member_id, ordered_at);",
    )
    .await?;
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let span = 730 * 24 * 3600i64;
    let total_weight: u32 = PREFECTURES.iter().map(|p| p.1).sum();
    let mut tx = conn.begin().await?;
    for id in 1..=members {
        let (sn, sr) = *rng.pick(SURNAMES);
        let (gn, gr) = *rng.pick(GIVEN);
        let mut w = rng.below(total_weight as u64) as u32;
        let mut pref = PREFECTURES[0].0;
        for (p, weight) in PREFECTURES {
            if w < *weight {
                pref = p;
                break;
            }
            w -= weight;
        }
        let created = now - Duration::seconds((rng.below(span as u64)) as i64);
        let birth = format!(
            "{}-{:02}-{:02}",
            1950 + rng.below(55),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let phone = if rng.below(10) == 0 {
            None
        } else {
            Some(format!(
                "0{}0-{:04}-{:04}",
                7 + rng.below(3),
                rng.below(10000),
                rng.below(10000)
            ))
        };
        sqlx::query("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(id as i64)
            .bind(format!("{sn} {gn}"))
            .bind(format!("{gr}.{sr}{}@{}", id, rng.pick(DOMAINS)))
            .bind(phone)
            .bind(pref)
            .bind(birth)
            .bind(created.format("%Y-%m-%d %H:%M:%S").to_string())
            .execute(&mut *tx)
            .await?;
    }
    for id in 1..=orders {
        let member = 1 + rng.below(members as u64);
        let at = now - Duration::seconds(rng.below(span as u64) as i64);
        let note = *rng.pick(NOTES);
        sqlx::query("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id as i64)
            .bind(member as i64)
            .bind((500 + rng.below(30_000)) as i64)
            .bind(*rng.pick(STATUSES))
            .bind(at.format("%Y-%m-%d %H:%M:%S").to_string())
            .bind(if note.is_empty() { None } else { Some(note) })
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

/// Where the demo keeps its database.
pub fn database_path(out: &Path) -> PathBuf {
    out.join("demo.sqlite")
}

/// The wall-clock time in Tokyo, as the demo data's "now".
pub fn now_in_tokyo() -> NaiveDateTime {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .naive_local()
}
