//! Keeping secrets out of output. Every connection URL, password and key sqlcourier
//! reads is registered here; everything printed as an error or log passes through
//! [`scrub`].

pub mod db;
pub mod echo;

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static S: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret (and, for a URL, its password and its user-info part).
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    s.push(secret.to_string());
    if let Some((_, rest)) = secret.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
    {
        if let Some((_, pw)) = userinfo.split_once(':')
            && pw.len() >= 3
        {
            s.push(pw.to_string());
            if let Ok(decoded) = percent_decode(pw) {
                s.push(decoded);
            }
        }
        s.push(userinfo.to_string());
    }
    s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    s.dedup();
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).map_err(|_| ())?;
            out.push(u8::from_str_radix(h, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// An error with its causes, `outer: cause: cause` (a client error's outer text alone
/// is often just "client error (SendRequest)"). Not scrubbed: pass it to [`scrub`].
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// A database error's text: its code, position and a text that cannot quote a data
/// value (see [`db::safe_db_error`]), scrubbed of secrets.
pub fn db_error_text(e: &sqlx::Error) -> String {
    db::safe_db_error(e).to_string()
}

/// [`db_error_text`] for an error of `statement` (the text as sent): the server's words
/// are kept only where they echo the statement ([`db::safe_db_error_in`]).
pub fn db_error_text_in(e: &sqlx::Error, statement: &str) -> String {
    db::safe_db_error_in(e, Some(statement)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_and_userinfo_are_scrubbed() {
        register("mysql://reporter:s3cr%40t@db.internal:3306/app");
        let t = scrub(
            "failed for mysql://reporter:s3cr%40t@db.internal:3306/app (pw s3cr@t, s3cr%40t)",
        );
        assert!(!t.contains("s3cr"), "{t}");
        assert!(t.contains("***"));
    }
}
