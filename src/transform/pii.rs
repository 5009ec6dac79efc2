//! The personal-data guard: column names that look personal, and values that look like
//! e-mail addresses, phone numbers or card numbers.

/// English words (whole name parts) that mark a column as personal.
const WORDS: &[&str] = &[
    "email",
    "mail",
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "fax",
    "name",
    "firstname",
    "lastname",
    "fullname",
    "kana",
    "furigana",
    "address",
    "addr",
    "zip",
    "zipcode",
    "postal",
    "postcode",
    "birth",
    "birthday",
    "birthdate",
    "dob",
    "ip",
    "ipaddr",
    "card",
    "account",
    "ssn",
    "passport",
    "gender",
    "sex",
];

/// Word stems that mark a column as personal even inside a longer part (`emailaddr`,
/// `phonenumber`, `username`).
const STEMS: &[&str] = &[
    "email", "mail", "phone", "mobile", "name", "kana", "address", "addr", "postal", "birth",
    "card", "account", "passport",
];

/// Japanese words that mark a column as personal.
const JAPANESE: &[&str] = &[
    "氏名",
    "名前",
    "姓名",
    "フリガナ",
    "ふりがな",
    "カナ",
    "電話",
    "携帯",
    "住所",
    "メール",
    "生年月日",
    "誕生日",
    "郵便",
    "年齢",
    "性別",
    "口座",
    "カード",
];

/// Why a column name looks personal: the word that matched, or `None`.
pub fn personal_name(column: &str) -> Option<String> {
    for j in JAPANESE {
        if column.contains(j) {
            return Some((*j).to_string());
        }
    }
    for part in name_parts(column) {
        if WORDS.contains(&part.as_str()) {
            return Some(part);
        }
        if let Some(stem) = STEMS.iter().find(|s| part.contains(*s)) {
            return Some((*stem).to_string());
        }
    }
    None
}

/// `customerEmail_addr2` → `customer`, `email`, `addr2`→`addr`.
fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
        .into_iter()
        .map(|p| p.trim_end_matches(|c: char| c.is_ascii_digit()).to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// What a sniffed value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Email,
    Phone,
    Card,
}

impl Sniffed {
    pub fn words(self) -> &'static str {
        match self {
            Sniffed::Email => "e-mail addresses",
            Sniffed::Phone => "phone numbers",
            Sniffed::Card => "payment card numbers",
        }
    }
    pub fn rule(self) -> &'static str {
        match self {
            Sniffed::Email => "email",
            Sniffed::Phone | Sniffed::Card => "last4",
        }
    }
}

/// Looks at one value.
pub fn sniff(v: &[u8]) -> Option<Sniffed> {
    if v.len() < 6 || v.len() > 320 {
        return None;
    }
    let s = std::str::from_utf8(v).ok()?.trim();
    if is_email(s) {
        return Some(Sniffed::Email);
    }
    if is_card(s) {
        return Some(Sniffed::Card);
    }
    if is_phone(s) {
        return Some(Sniffed::Phone);
    }
    None
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn digits_and_separators(s: &str, seps: &[char]) -> Option<Vec<u8>> {
    let mut digits = Vec::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c as u8 - b'0');
        } else if ('０'..='９').contains(&c) {
            digits.push((c as u32 - '０' as u32) as u8);
        } else if !seps.contains(&c) {
            return None;
        }
    }
    Some(digits)
}

/// Japanese and international phone numbers: 10–11 digits starting with 0, or a `+`
/// country code, with only separators between.
fn is_phone(s: &str) -> bool {
    let Some(d) = digits_and_separators(s, &['-', ' ', '(', ')', '+', '.', '－', '‐']) else {
        return false;
    };
    if s.starts_with('+') {
        return (10..=15).contains(&d.len());
    }
    d.first() == Some(&0) && (10..=11).contains(&d.len())
}

/// 13–19 digits with a card brand prefix and a valid Luhn check digit.
fn is_card(s: &str) -> bool {
    let Some(d) = digits_and_separators(s, &['-', ' ']) else {
        return false;
    };
    if !(13..=19).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let p2 = d[0] as u32 * 10 + d[1] as u32;
    let p4 = p2 * 100 + d[2] as u32 * 10 + d[3] as u32;
    let brand = d[0] == 4
        || (51..=55).contains(&p2)
        || (2221..=2720).contains(&p4)
        || p2 == 34
        || p2 == 37
        || p2 == 35
        || p2 == 36
        || p2 == 30
        || p2 == 38
        || p4 == 6011
        || p2 == 65;
    brand && luhn(&d)
}

fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = x as u32;
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_names() {
        for n in [
            "email",
            "EMAIL",
            "customer_email",
            "customerEmail",
            "mail",
            "phone",
            "tel",
            "mobile_no",
            "name",
            "first_name",
            "lastName",
            "full_name",
            "kana_sei",
            "address",
            "addr1",
            "zip",
            "zip_code",
            "postal_code",
            "birth_date",
            "dob",
            "ip",
            "client_ip",
            "card_no",
            "account_id",
            "username",
            "phonenumber",
        ] {
            assert!(personal_name(n).is_some(), "{n}");
        }
        for n in [
            "id",
            "prefecture",
            "signups",
            "amount",
            "status",
            "created_at",
            "order_count",
            "ship_date",
            "zipper",
            "tip",
            "region",
        ] {
            assert_eq!(personal_name(n), None, "{n}");
        }
    }

    #[test]
    fn japanese_names() {
        for n in [
            "氏名",
            "会員名前",
            "電話番号",
            "住所1",
            "メールアドレス",
            "生年月日",
            "フリガナ",
        ] {
            assert!(personal_name(n).is_some(), "{n}");
        }
        for n in ["都道府県", "件数", "売上"] {
            assert_eq!(personal_name(n), None, "{n}");
        }
    }

    #[test]
    fn sniffs_values() {
        assert_eq!(sniff(b"taro@example.com"), Some(Sniffed::Email));
        assert_eq!(sniff("山田@例え.jp".as_bytes()), Some(Sniffed::Email));
        assert_eq!(sniff(b"090-1234-5678"), Some(Sniffed::Phone));
        assert_eq!(sniff(b"03 1234 5678"), Some(Sniffed::Phone));
        assert_eq!(sniff(b"+81 90 1234 5678"), Some(Sniffed::Phone));
        assert_eq!(sniff(b"4111 1111 1111 1111"), Some(Sniffed::Card));
        assert_eq!(sniff(b"5500-0000-0000-0004"), Some(Sniffed::Card));
        for v in [
            "1234567890",          // no leading 0
            "2026-10-01 00:00:00", // a date
            "4111 1111 1111 1112", // Luhn fails
            "1000000000000000001", // no card brand
            "東京都",
            "@mention",
            "12.50",
            "user@localhost",
        ] {
            assert_eq!(sniff(v.as_bytes()), None, "{v}");
        }
    }
}
