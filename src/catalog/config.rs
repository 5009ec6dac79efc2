//! `sqlcourier.yaml`: the repository-level configuration — databases, destinations,
//! defaults and the masking key's name.
//!
//! ```yaml
//! defaults:
//!   timezone: Asia/Tokyo
//!   encoding: utf-8-bom
//!   timeout: 30m
//! databases:
//!   main:
//!     driver: mysql             # mysql (also MariaDB, Aurora MySQL) | postgres | sqlite
//!     url_env: SQLCOURIER_DB_MAIN   # the NAME of the environment variable holding the URL
//! destinations:
//!   opex-monthly:
//!     type: local
//!     path: out/opex-monthly
//! masking:
//!   key_env: SQLCOURIER_MASK_KEY
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::diag::{Diagnostic, Diagnostics, LineIndex, locate_key};
use crate::encode::Encoding;

/// The whole `sqlcourier.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Settings every query file inherits unless it says otherwise.
    #[serde(default)]
    pub defaults: Defaults,
    /// Databases by the name query files use in `database:`.
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// Where results go, by the name query files use in `destination:`.
    #[serde(default)]
    pub destinations: BTreeMap<String, DestinationConfig>,
    /// Masking settings (see the masking section of README.md).
    #[serde(default)]
    pub masking: MaskingConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// IANA time zone for periods, e.g. `Asia/Tokyo` (the default).
    pub timezone: Option<String>,
    /// Output encoding when a query does not say: `utf-8`, `utf-8-bom` (default) or `cp932`.
    pub encoding: Option<Encoding>,
    /// Statement time limit when a query does not say, e.g. `30m` (default `60m`).
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// MySQL 8, Aurora MySQL and MariaDB.
    #[serde(alias = "mariadb", alias = "aurora-mysql")]
    Mysql,
    /// PostgreSQL and Aurora PostgreSQL.
    #[serde(alias = "postgresql", alias = "aurora-postgresql")]
    Postgres,
    /// SQLite (the embedded demo database).
    Sqlite,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Mysql => "mysql",
            Driver::Postgres => "postgres",
            Driver::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub driver: Driver,
    /// Name of the environment variable that holds the connection URL. The URL itself
    /// never appears in a file, a log or an error.
    pub url_env: String,
    /// Functions allowed beyond the built-in list of pure reads, each with the reason it
    /// is safe: `reporting.fiscal_year: "pure SQL function, reviewed by the data team"`.
    /// Also table functions (`generate_series: "…"`).
    #[serde(default)]
    pub allowed_functions: BTreeMap<String, String>,
    /// System catalogs a query may read, each with a reason:
    /// `information_schema.columns: "data dictionary export"`.
    #[serde(default)]
    pub allowed_relations: BTreeMap<String, String>,
    /// Run even though the database user can do more than read, with the reason
    /// (printed as a warning on every run). Without it, `run` refuses such a user.
    #[serde(default)]
    pub allow_privileged_user: Option<String>,
    /// Largest single cell in bytes (default 64 MiB); a bigger value stops the run with
    /// its row and column.
    #[serde(default)]
    pub max_cell_bytes: Option<u64>,
}

impl DatabaseConfig {
    /// The operator's additions to the allow-lists, names lower-case.
    pub fn policy(&self) -> crate::guard::allow::Policy {
        let lower = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect()
        };
        crate::guard::allow::Policy {
            functions: lower(&self.allowed_functions),
            relations: lower(&self.allowed_relations),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DestinationConfig {
    /// A folder on the machine running sqlcourier (relative to the repository root).
    Local {
        path: PathBuf,
        /// Days to keep files; only documented for symmetry with `drive`.
        #[serde(default)]
        retention_days: Option<u32>,
    },
    /// A Google Drive folder (My Drive or a shared drive), written by a service account.
    /// See `sink::drive` and the operator section of README.md.
    Drive(DriveConfig),
}

/// `type: drive` — where files go in Google Drive and who may see them.
///
/// ```yaml
/// destinations:
///   opex-monthly:
///     type: drive
///     folder_id: 1AbCdEfGhIjKlMnOpQrStUvWxYz
///     key_env: SQLCOURIER_GOOGLE_KEY    # or key_file: /etc/sqlcourier/drive-key.json
///     readers:
///       users: [ops-lead@example.com]
///       groups: [opex@example.com]
///       domains: []
///     retention_days: 400
///     chunk_size_mib: 8
///     convert_to_sheets: false
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriveConfig {
    /// The folder's id: the last part of its link, `https://drive.google.com/drive/folders/<id>`.
    pub folder_id: String,
    /// Everyone who may see the folder. Any other permission on it makes runs refuse.
    pub readers: Readers,
    /// Days a delivered file is kept after its last update; `sqlcourier prune` trashes older ones.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// A path to the service-account key JSON (relative to the repository root).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The NAME of an environment variable holding the service-account key JSON.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Upload chunk size in MiB (default 8); memory use follows it, not the file size.
    #[serde(default)]
    pub chunk_size_mib: Option<u32>,
    /// Convert uploaded CSV files to Google Sheets (limit: 10,000,000 cells).
    #[serde(default)]
    pub convert_to_sheets: bool,
    /// The longest one file's upload may take, retries included, like `30m` (default
    /// `60m`, at most `24h`); then the run fails for that file and nothing is left behind.
    #[serde(default)]
    pub upload_deadline: Option<String>,
}

impl DriveConfig {
    /// [`DriveConfig::upload_deadline`] as a duration (checked when the config is loaded).
    pub fn upload_deadline(&self) -> std::time::Duration {
        self.upload_deadline
            .as_deref()
            .and_then(|t| crate::guard::timeout::parse(t).ok())
            .unwrap_or(std::time::Duration::from_secs(60 * 60))
    }
}

/// The people allowed to see a Drive folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readers {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    /// Name of the environment variable holding the secret key for `hash` masking.
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// How many rows of each unmasked, unallowed column are checked for personal data
    /// at run time: every row unless set (an explicit opt-down; `0` turns it off).
    #[serde(default = "default_sniff_rows")]
    pub sniff_rows: u64,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            key_env: default_key_env(),
            sniff_rows: default_sniff_rows(),
        }
    }
}

fn default_key_env() -> String {
    "SQLCOURIER_MASK_KEY".into()
}

fn default_sniff_rows() -> u64 {
    u64::MAX
}

/// The largest configuration or query file sqlcourier reads.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Reads a text file, refusing huge and non-UTF-8 files with a located message. A UTF-8
/// byte order mark is dropped and CRLF line endings become LF (lines keep their numbers).
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::new(path, 1, 1, format!("cannot read this file: {e}"))
            .help("check that the path is right and the file exists")
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            path,
            1,
            1,
            format!(
                "this file is {} KiB; sqlcourier reads files up to {} KiB",
                meta.len() / 1024,
                MAX_FILE_BYTES / 1024
            ),
        )
        .help("a query file holds one SELECT statement; move large lists into a table"));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(path, 1, 1, format!("cannot read this file: {e}"))
            .help("check the file's permissions")
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let good = std::str::from_utf8(good).unwrap_or_default();
            let (line, col) = LineIndex::new(good).position(good.len());
            return Err(Diagnostic::new(
                path,
                line,
                col,
                "this file is not saved as UTF-8 text",
            )
            .help("save it as UTF-8 (in the GitHub editor this is automatic; in Excel or Notepad choose \"UTF-8\")"));
        }
    };
    Ok(normalize_newlines(text))
}

/// CRLF and a lone CR become LF, so every line count (ours, libyaml's, sqlparser's)
/// agrees; a file saved with old Mac line ends still gets the right line numbers.
pub fn normalize_newlines(text: &str) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    }
}

impl RepoConfig {
    /// Loads and validates `sqlcourier.yaml`.
    pub fn load(path: &Path) -> Result<RepoConfig, Diagnostics> {
        let text = read_text(path)?;
        Self::parse(path, &text)
    }

    /// Parses and validates the text of a `sqlcourier.yaml` found at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<RepoConfig, Diagnostics> {
        let cfg: RepoConfig =
            super::yaml::parse(path, text, 1, "sqlcourier.yaml", super::indent::REPO_CONFIG)
                .map_err(Diagnostics)?;
        let idx = LineIndex::new(text);
        let last = idx.line_count();
        let mut problems = Vec::new();
        if let Some(tz) = &cfg.defaults.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            let (l, c) = locate_key(&idx, 1, last, &["defaults", "timezone"]);
            problems.push(
                Diagnostic::new(path, l, c, format!("`{tz}` is not a time zone name"))
                    .help("use an IANA name such as Asia/Tokyo or UTC"),
            );
        }
        if let Some(t) = &cfg.defaults.timeout
            && let Err(msg) = crate::guard::timeout::parse(t)
        {
            let (l, c) = locate_key(&idx, 1, last, &["defaults", "timeout"]);
            problems.push(Diagnostic::new(path, l, c, msg).help("write it like 90s, 30m or 1h30m"));
        }
        for (name, db) in &cfg.databases {
            if !is_env_name(&db.url_env) {
                let (l, c) = locate_key(&idx, 1, last, &["databases", name, "url_env"]);
                problems.push(
                    Diagnostic::new(
                        path,
                        l,
                        c,
                        "`url_env` must be the NAME of an environment variable, not a URL",
                    )
                    .help("write e.g. `url_env: SQLCOURIER_DB_MAIN` and put the URL in that variable (a GitHub secret)"),
                );
            }
            let lists = [
                ("allowed_functions", &db.allowed_functions),
                ("allowed_relations", &db.allowed_relations),
            ];
            for (key, list) in lists {
                for (f, reason) in list {
                    if reason.trim().is_empty() {
                        let (l, c) = locate_key(&idx, 1, last, &["databases", name, key, f]);
                        problems.push(
                            Diagnostic::new(path, l, c, format!("`{f}` in `{key}` has no reason"))
                                .help("write why it is safe, e.g. `my_fn: \"pure calculation, reviewed by the data team\"`"),
                        );
                    }
                }
            }
            if db
                .allow_privileged_user
                .as_ref()
                .is_some_and(|r| r.trim().is_empty())
            {
                let (l, c) =
                    locate_key(&idx, 1, last, &["databases", name, "allow_privileged_user"]);
                problems.push(
                    Diagnostic::new(path, l, c, "`allow_privileged_user` needs a reason")
                        .help("write why this database may be read with a user that can write, or remove the line and use a read-only user"),
                );
            }
            if db.max_cell_bytes == Some(0) {
                let (l, c) = locate_key(&idx, 1, last, &["databases", name, "max_cell_bytes"]);
                problems.push(
                    Diagnostic::new(path, l, c, "`max_cell_bytes` must be more than 0")
                        .help("leave it out for the default of 64 MiB (67108864)"),
                );
            }
        }
        for (name, dest) in &cfg.destinations {
            if let DestinationConfig::Drive(d) = dest {
                for (keys, msg, help) in drive_problems(d) {
                    let mut at = vec!["destinations", name.as_str()];
                    at.extend(keys);
                    let (l, c) = locate_key(&idx, 1, last, &at);
                    problems.push(Diagnostic::new(path, l, c, msg).help(help));
                }
            }
        }
        if !is_env_name(&cfg.masking.key_env) {
            let (l, c) = locate_key(&idx, 1, last, &["masking", "key_env"]);
            problems.push(
                Diagnostic::new(
                    path,
                    l,
                    c,
                    "`key_env` must be the NAME of an environment variable",
                )
                .help(
                    "write e.g. `key_env: SQLCOURIER_MASK_KEY` and keep the key itself in a secret",
                ),
            );
        }
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(Diagnostics(problems))
        }
    }

    pub fn timezone(&self) -> &str {
        self.defaults.timezone.as_deref().unwrap_or("Asia/Tokyo")
    }
}

/// The problems of one `type: drive` destination: (key path, message, what to do).
fn drive_problems(d: &DriveConfig) -> Vec<(Vec<&'static str>, String, &'static str)> {
    let mut p = Vec::new();
    if d.folder_id.is_empty()
        || !d
            .folder_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        p.push((
            vec!["folder_id"],
            "`folder_id` must be a Drive folder id (letters, digits, - and _)".to_string(),
            "open the folder in Drive and copy the last part of its link, after /folders/",
        ));
    }
    match (&d.key_file, &d.key_env) {
        (Some(_), Some(_)) => p.push((
            vec!["key_env"],
            "give either `key_file` or `key_env`, not both".to_string(),
            "keep the one that holds the service-account key",
        )),
        (None, None) => p.push((
            vec!["folder_id"],
            "this Drive destination says nowhere where the service-account key is".to_string(),
            "add `key_env: SQLCOURIER_GOOGLE_KEY` (an environment variable holding the key JSON) or `key_file: path/to/key.json`",
        )),
        (None, Some(env)) if !is_env_name(env) => p.push((
            vec!["key_env"],
            "`key_env` must be the NAME of an environment variable, not the key".to_string(),
            "write e.g. `key_env: SQLCOURIER_GOOGLE_KEY` and put the key JSON in that variable (a GitHub secret)",
        )),
        _ => {}
    }
    if let Some(mib) = d.chunk_size_mib
        && !(1..=256).contains(&mib)
    {
        p.push((
            vec!["chunk_size_mib"],
            format!("`chunk_size_mib: {mib}` is out of range"),
            "use a whole number of MiB from 1 to 256 (8 is a good default)",
        ));
    }
    if let Some(t) = &d.upload_deadline
        && let Err(msg) = crate::guard::timeout::parse(t)
    {
        p.push((
            vec!["upload_deadline"],
            format!("`upload_deadline`: {msg}"),
            "write a time like `30m` or `2h` (at most 24h)",
        ));
    }
    if d.readers.users.is_empty() && d.readers.groups.is_empty() && d.readers.domains.is_empty() {
        p.push((
            vec!["readers"],
            "`readers` lists nobody, so nobody could open the files".to_string(),
            "list the people (`users`), Google groups (`groups`) or domains (`domains`) allowed to see this folder",
        ));
    }
    for (list, what) in [(&d.readers.users, "users"), (&d.readers.groups, "groups")] {
        for r in list.iter() {
            if !r.contains('@') || r.contains(char::is_whitespace) {
                p.push((
                    vec!["readers", what],
                    format!("`{r}` in `readers.{what}` is not an e-mail address"),
                    "write the address exactly as Drive's sharing dialog shows it",
                ));
            }
        }
    }
    for r in &d.readers.domains {
        if r.contains('@') || !r.contains('.') || r.contains(char::is_whitespace) {
            p.push((
                vec!["readers", "domains"],
                format!("`{r}` in `readers.domains` is not a domain name"),
                "write a domain such as example.com (everyone in it can see the folder)",
            ));
        }
    }
    p
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RepoConfig, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sqlcourier.yaml");
        std::fs::write(&p, text).unwrap();
        RepoConfig::load(&p)
    }

    #[test]
    fn minimal_config() {
        let c = load("databases:\n  main: {driver: mariadb, url_env: DB_MAIN}\ndestinations:\n  out: {type: local, path: out}\n").unwrap();
        assert_eq!(c.databases["main"].driver, Driver::Mysql);
        assert_eq!(c.timezone(), "Asia/Tokyo");
    }

    #[test]
    fn url_in_url_env_is_refused_without_echoing_it() {
        let e =
            load("databases:\n  main:\n    driver: mysql\n    url_env: mysql://u:hunter2pw@h/db\n")
                .unwrap_err();
        let text = e.to_string();
        assert!(text.contains(":4:5:"), "{text}");
        assert!(!text.contains("hunter2pw"), "{text}");
    }

    #[test]
    fn unknown_destination_type_and_key() {
        let e = load("databases: {}\ndestinations:\n  x: {type: ftp, path: a}\n").unwrap_err();
        assert!(e.to_string().contains("ftp"), "{e}");
        let e = load("databases: {}\ndestinations:\n  x: {type: local, path: a, mode: 7}\n")
            .unwrap_err();
        assert!(e.to_string().contains("`mode` is not a setting"), "{e}");
    }

    #[test]
    fn drive_destination_parses_and_is_validated() {
        let c = load("databases: {}\ndestinations:\n  d:\n    type: drive\n    folder_id: abc_DEF-1\n    key_env: DRIVE_KEY\n    readers: {users: [a@example.com], domains: [example.com]}\n    retention_days: 30\n").unwrap();
        let DestinationConfig::Drive(d) = &c.destinations["d"] else {
            panic!("not drive")
        };
        assert_eq!(d.retention_days, Some(30));
        assert!(!d.convert_to_sheets);
        let e = load("databases: {}\ndestinations:\n  d:\n    type: drive\n    folder_id: abc\n    key_env: DRIVE_KEY\n    readers: {users: [a@example.com]}\n    share: anyone\n").unwrap_err();
        assert!(e.to_string().contains("`share` is not a setting"), "{e}");
        let e = load("databases: {}\ndestinations:\n  d:\n    type: drive\n    folder_id: \"a/b\"\n    key_env: '{\"private_key\": 1}'\n    readers: {users: [nobody]}\n    chunk_size_mib: 0\n").unwrap_err();
        let t = e.to_string();
        for needle in [
            "`folder_id` must be",
            "`key_env` must be the NAME",
            "`nobody` in `readers.users`",
            "`chunk_size_mib: 0`",
        ] {
            assert!(t.contains(needle), "missing {needle} in {t}");
        }
        assert!(!t.contains("private_key"), "{t}");
    }

    #[test]
    fn bad_timezone_is_located() {
        let e = load("defaults:\n  timezone: Tokyo/Asia\ndatabases: {}\n").unwrap_err();
        assert!(e.to_string().contains("sqlcourier.yaml:2:3:"), "{e}");
    }
}
