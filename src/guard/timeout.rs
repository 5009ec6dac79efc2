//! Statement time limits written like `90s`, `30m`, `1h30m`.

use std::time::Duration;

/// The limit when neither the query nor `sqlcourier.yaml` says.
pub const DEFAULT: Duration = Duration::from_secs(60 * 60);
/// The largest limit accepted.
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a time limit");
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return Err(bad()),
        };
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
        return Err(format!("`{s}` is longer than the 24h maximum"));
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
        for bad in ["", "30", "m", "1x", "0s", "25h", "-1m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
