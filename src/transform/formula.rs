//! The spreadsheet formula guard.
//!
//! Excel and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a
//! formula, and treat a leading tab or carriage return the same way in some versions.
//! A cell starting with one of these six characters is written with a leading `'`,
//! which both programs show as plain text — except a plain number: an optional sign,
//! digits with an optional decimal part, and an optional exponent (`-5`, `+3.25`,
//! `-1.5e3`), which stays as it is so it remains a number.

/// Whether `v` must get a leading apostrophe.
#[inline]
pub fn needs_guard(v: &[u8]) -> bool {
    match v.first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !is_plain_number(v),
        _ => false,
    }
}

fn is_plain_number(v: &[u8]) -> bool {
    let mut i = 0;
    if matches!(v.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_start = i;
    while i < v.len() && v[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < v.len() && v[i] == b'.' {
        i += 1;
        let frac = i;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac;
    }
    if digits == 0 {
        return false;
    }
    if i < v.len() && (v[i] == b'e' || v[i] == b'E') {
        i += 1;
        if i < v.len() && (v[i] == b'+' || v[i] == b'-') {
            i += 1;
        }
        let exp = i;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp {
            return false;
        }
    }
    i == v.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_formulas_but_not_numbers() {
        for v in [
            "=1+1",
            "=HYPERLINK(\"x\")",
            "+cmd",
            "-cmd",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "-",
            "+",
            "-.",
            "-1e",
            "-5 ",
            "--5",
            "-1-2",
        ] {
            assert!(needs_guard(v.as_bytes()), "{v:?}");
        }
        for v in [
            "-5", "+3.25", "-1.5e3", "-.5", "-5.", "1e-3", "plain", "", "a=b", "0",
        ] {
            assert!(!needs_guard(v.as_bytes()), "{v:?}");
        }
    }
}
