//! Masking functions. Every rule keeps SQL NULL as NULL, and every rule but `null`
//! keeps an empty string as an empty string; everything else is defined per rule below (and in README.md, with the
//! same examples as the tests).

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// A masking rule from a query file's `mask:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskRule {
    /// `h_` + the first 16 hex digits of HMAC-SHA256(key, value bytes). Deterministic
    /// for one key, so masked columns still join across files; a new key changes all.
    Hash,
    /// Keeps the domain and the first character of the local part: `t***@example.com`.
    /// A value without `@` becomes `***`.
    Email,
    /// Keeps the last four digits when the value has at least eight; every other digit
    /// becomes `*`. Separators and other characters stay.
    Last4,
    /// Replaces the value with `[redacted]`.
    Redact,
    /// Replaces the value with NULL (an empty field).
    Null,
    /// Keeps the year of a date or date-time: `2026`.
    Year,
    /// Keeps the year and month of a date or date-time: `2026-10`.
    Month,
    /// Keeps free text and replaces every e-mail address, phone and card number found
    /// in it (the sniffer's detectors, also inside hex/base64) with `[email]`,
    /// `[phone]`, `[card]`.
    Scrub,
}

impl MaskRule {
    pub fn name(self) -> &'static str {
        match self {
            MaskRule::Hash => "hash",
            MaskRule::Email => "email",
            MaskRule::Last4 => "last4",
            MaskRule::Redact => "redact",
            MaskRule::Null => "null",
            MaskRule::Year => "year",
            MaskRule::Month => "month",
            MaskRule::Scrub => "scrub",
        }
    }
}

/// The shortest key accepted for `hash`.
pub const MIN_KEY_BYTES: usize = 16;

/// A rule ready to apply (with its key for `hash`).
#[derive(Clone)]
pub struct Masker {
    rule: MaskRule,
    hmac: Option<Hmac<Sha256>>,
}

/// What a mask produced for one cell.
pub enum Masked {
    /// NULL.
    Null,
    /// The bytes written into the scratch buffer.
    Scratch,
    /// The value was not of the kind the rule expects (e.g. `year` on a non-date): the
    /// cell becomes NULL and the run reports how many cells this happened to.
    Unfit,
}

impl Masker {
    pub fn new(rule: MaskRule, key: Option<&[u8]>) -> Result<Masker, String> {
        let hmac = match rule {
            MaskRule::Hash => {
                let key = key.ok_or("the `hash` rule needs the masking key")?;
                if key.len() < MIN_KEY_BYTES {
                    return Err(format!(
                        "the masking key is too short: use at least {MIN_KEY_BYTES} bytes"
                    ));
                }
                Some(Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        Ok(Masker { rule, hmac })
    }

    pub fn rule(&self) -> MaskRule {
        self.rule
    }

    /// Masks `v` into `out` (cleared first).
    pub fn apply(&self, v: &[u8], out: &mut Vec<u8>) -> Masked {
        out.clear();
        if v.is_empty() && self.rule != MaskRule::Null {
            return Masked::Scratch;
        }
        match self.rule {
            MaskRule::Null => return Masked::Null,
            MaskRule::Redact => out.extend_from_slice(b"[redacted]"),
            MaskRule::Scrub => super::pii::scrub(v, out),
            MaskRule::Hash => {
                let mut mac = self.hmac.clone().expect("hash masker has a key");
                mac.update(v);
                let digest = mac.finalize().into_bytes();
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"h_");
                for b in &digest[..8] {
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 15) as usize]);
                }
            }
            MaskRule::Email => {
                let s = String::from_utf8_lossy(v);
                match s.rsplit_once('@') {
                    Some((local, domain)) if !domain.is_empty() => {
                        if let Some(first) = local.chars().next() {
                            let mut b = [0u8; 4];
                            out.extend_from_slice(first.encode_utf8(&mut b).as_bytes());
                        }
                        out.extend_from_slice(b"***@");
                        out.extend_from_slice(domain.as_bytes());
                    }
                    _ => out.extend_from_slice(b"***"),
                }
            }
            MaskRule::Last4 => {
                let s = String::from_utf8_lossy(v);
                let digits = s.chars().filter(|c| is_digit(*c)).count();
                let keep = if digits >= 8 { 4 } else { 0 };
                let mut seen = 0;
                let mut b = [0u8; 4];
                for c in s.chars() {
                    if is_digit(c) {
                        seen += 1;
                        if seen > digits - keep {
                            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                        } else {
                            out.push(b'*');
                        }
                    } else {
                        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                    }
                }
            }
            MaskRule::Year | MaskRule::Month => {
                let n = if self.rule == MaskRule::Year { 4 } else { 7 };
                if !looks_like_date(v) {
                    return Masked::Unfit;
                }
                out.extend_from_slice(&v[..n]);
            }
        }
        Masked::Scratch
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

/// `YYYY-MM…` (a date, date-time or timestamp as every supported database writes it).
fn looks_like_date(v: &[u8]) -> bool {
    v.len() >= 7
        && v[..4].iter().all(u8::is_ascii_digit)
        && v[4] == b'-'
        && v[5..7].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-test-key";

    fn mask(rule: MaskRule, v: &str) -> Option<String> {
        let m = Masker::new(rule, Some(KEY)).unwrap();
        let mut out = Vec::new();
        match m.apply(v.as_bytes(), &mut out) {
            Masked::Null | Masked::Unfit => None,
            Masked::Scratch => Some(String::from_utf8(out).unwrap()),
        }
    }

    // Golden vectors: the same table is in README.md ("Masking rules").
    #[test]
    fn golden_hash() {
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
            mac.update("taro@example.com".as_bytes());
            format!("h_{}", &hex::encode(mac.finalize().into_bytes())[..16])
        };
        assert_eq!(mask(MaskRule::Hash, "taro@example.com").unwrap(), expected);
        // fixed vector, independent of the implementation above
        let m = Masker::new(MaskRule::Hash, Some(b"sqlcourier-golden-key")).unwrap();
        let mut out = Vec::new();
        m.apply(b"taro@example.com", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "h_fc710f8447cad312");
        assert_eq!(mask(MaskRule::Hash, "").unwrap(), "");
        assert_ne!(
            mask(MaskRule::Hash, "山田太郎"),
            mask(MaskRule::Hash, "山田花子")
        );
    }

    #[test]
    fn hash_depends_on_key() {
        let a = Masker::new(MaskRule::Hash, Some(b"key-number-one-0000")).unwrap();
        let b = Masker::new(MaskRule::Hash, Some(b"key-number-two-0000")).unwrap();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.apply(b"x@example.com", &mut x);
        b.apply(b"x@example.com", &mut y);
        assert_ne!(x, y);
        assert!(Masker::new(MaskRule::Hash, Some(b"short")).is_err());
        assert!(Masker::new(MaskRule::Hash, None).is_err());
    }

    #[test]
    fn golden_email() {
        assert_eq!(
            mask(MaskRule::Email, "taro@example.com").unwrap(),
            "t***@example.com"
        );
        assert_eq!(
            mask(MaskRule::Email, "t@example.co.jp").unwrap(),
            "t***@example.co.jp"
        );
        assert_eq!(
            mask(MaskRule::Email, "山田@例え.jp").unwrap(),
            "山***@例え.jp"
        );
        assert_eq!(
            mask(MaskRule::Email, "@example.com").unwrap(),
            "***@example.com"
        );
        assert_eq!(mask(MaskRule::Email, "not-an-address").unwrap(), "***");
        assert_eq!(mask(MaskRule::Email, "").unwrap(), "");
    }

    /// The README's `scrub` golden vectors.
    pub(crate) const SCRUB_GOLDEN: &[(&str, &str)] = &[
        ("連絡先は taro@example.com です", "連絡先は [email] です"),
        ("call 090-1234-5678 after 6pm", "call [phone] after 6pm"),
        (
            "TEL:03-1234-5678／FAX:03-1234-5679",
            "TEL:[phone]／FAX:[phone]",
        ),
        ("携帯０９０－１２３４－５６７８まで", "携帯[phone]まで"),
        ("intl +81 90 1234 5678.", "intl [phone]."),
        (
            "card 4111 1111 1111 1111 exp 12/27",
            "card [card] exp 12/27",
        ),
        ("a@b.jp,c@d.jp", "[email],[email]"),
        ("hex 7461726f406578616d706c652e636f6d ok", "hex [email] ok"),
        ("b64 dGFyb0BleGFtcGxlLmNvbQ== ok", "b64 [email] ok"),
        (
            "order 12345, 2026-10-01 12:34, 0.0000000001",
            "order 12345, 2026-10-01 12:34, 0.0000000001",
        ),
        ("山田@例え.jp", "[email]"),
        ("", ""),
    ];

    #[test]
    fn golden_scrub() {
        for (input, want) in SCRUB_GOLDEN {
            assert_eq!(mask(MaskRule::Scrub, input).unwrap(), *want, "{input}");
        }
    }

    #[test]
    fn golden_last4() {
        assert_eq!(
            mask(MaskRule::Last4, "090-1234-5678").unwrap(),
            "***-****-5678"
        );
        assert_eq!(
            mask(MaskRule::Last4, "+81 90 1234 5678").unwrap(),
            "+** ** **** 5678"
        );
        assert_eq!(
            mask(MaskRule::Last4, "4111 1111 1111 1111").unwrap(),
            "**** **** **** 1111"
        );
        assert_eq!(
            mask(MaskRule::Last4, "０９０１２３４５６７８").unwrap(),
            "*******５６７８"
        );
        // too short to keep anything
        assert_eq!(mask(MaskRule::Last4, "1234567").unwrap(), "*******");
        assert_eq!(mask(MaskRule::Last4, "内線12").unwrap(), "内線**");
        assert_eq!(mask(MaskRule::Last4, "").unwrap(), "");
    }

    #[test]
    fn golden_redact_null_year_month() {
        assert_eq!(mask(MaskRule::Redact, "山田太郎").unwrap(), "[redacted]");
        assert_eq!(mask(MaskRule::Redact, "").unwrap(), "");
        assert_eq!(mask(MaskRule::Null, "x"), None);
        assert_eq!(mask(MaskRule::Year, "1990-04-01").unwrap(), "1990");
        assert_eq!(
            mask(MaskRule::Month, "1990-04-01 12:34:56").unwrap(),
            "1990-04"
        );
        assert_eq!(mask(MaskRule::Month, "1990-04").unwrap(), "1990-04");
        assert_eq!(
            mask(MaskRule::Year, "04/01/1990"),
            None,
            "not a date: unfit"
        );
        assert_eq!(mask(MaskRule::Year, "").unwrap(), "");
    }
}
