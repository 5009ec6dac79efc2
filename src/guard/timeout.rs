//! Statement time limits written like `90s`, `30m`, `1h30m`.

use std::time::Duration;

/// The limit when neither the query nor `sqlcourier.yaml` says.
pub const DEFAULT: Duration = Duration::from_secs(60 * 60);
/// The largest limit accepted.
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a time limit. Every step is checked arithmetic: a number too large for any
/// clock (`5124095576030432h`) is "longer than the 24h maximum", never a wrapped value.
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a time limit");
    let too_long = || format!("`{s}` is longer than the 24h maximum");
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        if num.is_empty() {
            return Err(bad());
        }
        // digits only: the one way `parse` fails here is a number beyond u64
        let n: u64 = num.parse().map_err(|_| too_long())?;
        num.clear();
        let unit: u64 = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(too_long)?;
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    let d = Duration::from_secs(total);
    if d.is_zero() {
        return Err(format!("`{s}` is zero; a query needs some time to run"));
    }
    if d > MAX {
        return Err(too_long());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("90s").unwrap().as_secs(), 90);
        assert_eq!(parse("30m").unwrap().as_secs(), 1800);
        assert_eq!(parse("1h30m").unwrap().as_secs(), 5400);
        for bad in ["", "30", "m", "1x", "0s", "25h", "-1m", "h1s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Regression: `5124095576030432h` wrapped to 3,584 s in a release build.
    #[test]
    fn huge_numbers_never_wrap() {
        for huge in [
            "5124095576030432h",
            "307445734561825861m",
            "18446744073709551615s",
            "18446744073709551616s",
            "99999999999999999999999999h",
            "1s18446744073709551615s",
            "24h1s",
            "86401s",
            "1441m",
        ] {
            let e = parse(huge).unwrap_err();
            assert!(e.contains("24h maximum"), "{huge}: {e}");
        }
        assert_eq!(parse("24h").unwrap(), MAX);
        assert_eq!(parse("86400s").unwrap(), MAX);
        assert_eq!(parse("23h59m60s").unwrap(), MAX);
    }
}
