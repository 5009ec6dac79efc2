//! Keeping secrets out of logs and error reports: every secret the function reads
//! (the GitHub App key, the webhook secret) is registered here, and every error text it
//! prints or returns passes through [`scrub`].
//!
//! Hand-written (a mutex'd list and `str::replace`): the function's own crate must not
//! depend on `sqlcourier`, whose `redact` module does the same for its DSNs.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static S: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret. Values shorter than 4 bytes are ignored (they would blank out
/// ordinary words).
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    s.push(secret.to_string());
    // Longest first, so that a secret containing another is replaced whole.
    s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    s.dedup();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_replaced_longest_first() {
        register("sqlcourier-secrets-test-abc");
        register("sqlcourier-secrets-test-abc-and-more");
        register("ab"); // too short to register
        assert_eq!(
            scrub("x sqlcourier-secrets-test-abc-and-more y sqlcourier-secrets-test-abc ab"),
            "x *** y *** ab"
        );
    }
}
