//! FLOAT/DOUBLE/REAL cells: the shortest text that reads back to the same value
//! (README "CSV format"). MySQL/MariaDB `FLOAT` round-trips as an `f32` (the type the
//! server stores), `DOUBLE` and SQLite `REAL` as an `f64`.
//!
//! Rust's formatting already yields the shortest round-trip digits (`{:e}` gives them
//! with an exponent); this module only chooses the notation: positional for decimal
//! exponents -4 ..= 14 (`0.0001`, `123.5`, `100000000000000`), scientific outside
//! (`1e15`, `1.5e-7`, `3.4028235e38`, `1e300`), as MySQL prints doubles — never a
//! 301-digit number. Excel and every CSV reader read both forms.

use std::io::Write;

/// Appends the shortest round-trip text of an `f64`.
pub fn push_f64(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        return push_special(out, x.is_nan(), x.is_sign_negative());
    }
    let sci = format!("{x:e}");
    push_choice(out, &sci, || format!("{x}"));
}

/// Appends the shortest text that reads back, as an `f32`, to the same value.
pub fn push_f32(out: &mut Vec<u8>, x: f32) {
    if !x.is_finite() {
        return push_special(out, x.is_nan(), x.is_sign_negative());
    }
    let sci = format!("{x:e}");
    push_choice(out, &sci, || format!("{x}"));
}

fn push_special(out: &mut Vec<u8>, nan: bool, negative: bool) {
    // SQLite's own spelling; MySQL cannot store these
    let _ = out.write_all(match (nan, negative) {
        (true, _) => b"NaN",
        (false, false) => b"Inf",
        (false, true) => b"-Inf",
    });
}

/// `sci` is Rust's shortest scientific form (`1.5e-7`, `1e300`, `0e0`).
fn push_choice(out: &mut Vec<u8>, sci: &str, positional: impl FnOnce() -> String) {
    let exp: i32 = sci
        .rsplit_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if (-4..15).contains(&exp) {
        out.extend_from_slice(positional().as_bytes());
    } else {
        out.extend_from_slice(sci.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f64) -> String {
        let mut o = Vec::new();
        push_f64(&mut o, x);
        String::from_utf8(o).unwrap()
    }
    fn f(x: f32) -> String {
        let mut o = Vec::new();
        push_f32(&mut o, x);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn float_text_is_short_and_round_trips() {
        assert_eq!(d(1e300), "1e300");
        assert_eq!(d(f64::MAX), "1.7976931348623157e308");
        assert_eq!(d(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(d(5e-324), "5e-324");
        assert_eq!(d(0.1), "0.1");
        assert_eq!(d(-0.0), "-0");
        assert_eq!(d(0.0), "0");
        assert_eq!(d(123.456), "123.456");
        assert_eq!(d(1e14), "100000000000000");
        assert_eq!(d(1e15), "1e15");
        assert_eq!(d(0.0001), "0.0001");
        assert_eq!(d(0.00001), "1e-5");
        assert_eq!(d(f64::INFINITY), "Inf");
        assert_eq!(f(f32::MAX), "3.4028235e38");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.1), "1.1");
        assert_eq!(f(f32::MIN_POSITIVE), "1.1754944e-38");
        // a hostile corpus: every text reads back to the same bits, and is never long
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = f64::from_bits(seed);
            if x.is_finite() {
                let t = d(x);
                assert_eq!(t.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{t}");
                assert!(t.len() <= 24, "{t}");
            }
            let y = f32::from_bits(seed as u32);
            if y.is_finite() {
                let t = f(y);
                assert_eq!(t.parse::<f32>().unwrap().to_bits(), y.to_bits(), "{t}");
                assert!(t.len() <= 16, "{t}");
            }
        }
    }
}
