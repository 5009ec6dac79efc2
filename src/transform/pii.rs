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
    /// The token the `scrub` rule writes in its place.
    pub fn token(self) -> &'static str {
        match self {
            Sniffed::Email => "[email]",
            Sniffed::Phone => "[phone]",
            Sniffed::Card => "[card]",
        }
    }
}

/// A personal value found inside a cell: its byte range and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub kind: Sniffed,
}

/// The shortest cell that can hold a personal value (`a@b.jp`).
const MIN_LEN: usize = 6;
/// Hex or base64 runs shorter than this are not decoded (too short to hide one).
const MIN_ENCODED: usize = 12;

/// Looks at one value: the first e-mail address, phone or card number anywhere in it,
/// also inside hex or base64 text. Cheap for the usual cell: one pass over the bytes
/// decides which detectors can match at all.
pub fn sniff(v: &[u8]) -> Option<Sniffed> {
    let mut first = None;
    find(v, &mut |h| {
        first = Some(h.kind);
        false
    });
    first
}

/// Calls `hit` for every personal value in `v`, in order, until it returns `false`.
pub fn find(v: &[u8], hit: &mut dyn FnMut(Hit) -> bool) {
    if v.len() < MIN_LEN {
        return;
    }
    // the usual typed cells first: an integer, a date or time stamp, a decimal
    if v.iter().all(u8::is_ascii_digit) {
        if v.len() < MIN_ENCODED {
            // `phone` without the `+`: 0, a non-zero digit, 10–11 digits
            if (10..=11).contains(&v.len()) && v[0] == b'0' && v[1] != b'0' {
                hit(Hit {
                    start: 0,
                    end: v.len(),
                    kind: Sniffed::Phone,
                });
            }
            return;
        }
    } else if (v[0].is_ascii_digit() || v[0] == b'-') && is_typed_value(v) {
        return;
    }
    // the pre-filter: what kinds of characters are there at all? `tok` counts the
    // digits of the current number-like token (digits joined by at most two
    // separators), `max_tok` the most any token has
    let mut high = false;
    let mut run = 0usize;
    let mut long_run = false;
    let (mut tok, mut seps, mut max_tok) = (0usize, 0usize, 0usize);
    for &b in v {
        if b.is_ascii_digit() {
            tok += 1;
            seps = 0;
            max_tok = max_tok.max(tok);
        } else if tok > 0 && matches!(b, b'-' | b' ' | b'(' | b')' | b'.' | b'/') {
            seps += 1;
            if seps > 2 {
                tok = 0;
                seps = 0;
            }
        } else {
            tok = 0;
            seps = 0;
        }
        high |= b >= 0x80;
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'_' || b == b'-' {
            run += 1;
            long_run |= run >= MIN_ENCODED;
        } else {
            run = 0;
        }
    }
    let at = memchr::memchr(b'@', v).is_some() || (high && contains(v, "＠".as_bytes()));
    let percent = memchr::memchr(b'%', v).is_some() && contains(v, b"%40");
    // typed values (a date, a time stamp, a decimal number) never hold a phone or
    // card number; a plain integer is one only with the right number of digits
    let numbers = high || (max_tok >= 10 && !is_typed_value(v));
    if !at && !numbers && !long_run && !percent {
        return;
    }
    let text = String::from_utf8_lossy(v);
    let s: &str = &text;
    let mut hits: Vec<Hit> = Vec::new();
    if at {
        emails(s, &mut hits);
    }
    if numbers {
        numbers_in(s, &mut hits);
    }
    if long_run || percent {
        encoded(s, &mut hits, DEPTH);
    }
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut end = 0;
    for h in hits {
        if h.start < end {
            continue; // inside a hit already reported
        }
        end = h.end;
        if !hit(h) {
            return;
        }
    }
}

/// A whole cell that is a date or time stamp (`2026-10-01`, `2026-10-01 12:34:56.5+09`)
/// or a decimal number (`-0.1234567890`, `1.5e-10`), as databases write those types.
fn is_typed_value(v: &[u8]) -> bool {
    if v.len() >= 10
        && v[..4].iter().all(u8::is_ascii_digit)
        && v[4] == b'-'
        && v[5..7].iter().all(u8::is_ascii_digit)
        && v[7] == b'-'
        && v[8..10].iter().all(u8::is_ascii_digit)
    {
        return is_time_rest(&v[10..]);
    }
    let body = v.strip_prefix(b"-").unwrap_or(v);
    let (mantissa, exp) = match body.iter().position(|b| matches!(b, b'e' | b'E')) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let Some(dot) = mantissa.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (int, frac) = (&mantissa[..dot], &mantissa[dot + 1..]);
    !int.is_empty()
        && !frac.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.iter().all(u8::is_ascii_digit)
        && exp.is_none_or(|e| {
            let e = e.strip_prefix(b"-").or(e.strip_prefix(b"+")).unwrap_or(e);
            !e.is_empty() && e.iter().all(u8::is_ascii_digit)
        })
}

/// After a date: nothing, or ` HH:MM[:SS[.fraction]]` and an optional zone
/// (`Z`, `+09`, `+09:00`, `-0500`).
fn is_time_rest(r: &[u8]) -> bool {
    let d = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
    if r.is_empty() {
        return true;
    }
    if r.len() < 6 || !matches!(r[0], b' ' | b'T') || !d(&r[1..3]) || r[3] != b':' || !d(&r[4..6]) {
        return false;
    }
    let mut i = 6;
    if r.len() >= i + 3 && r[i] == b':' && d(&r[i + 1..i + 3]) {
        i += 3;
        if r.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while r.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
    }
    let zone = &r[i..];
    match zone {
        [] | [b'Z'] => true,
        [b'+' | b'-', a, b] => d(&[*a, *b]),
        [b'+' | b'-', a, b, b':', c, e] | [b'+' | b'-', a, b, c, e] => d(&[*a, *b, *c, *e]),
        _ => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The text with each personal value replaced by its token (the `scrub` rule).
pub fn scrub(v: &[u8], out: &mut Vec<u8>) {
    let mut last = 0;
    let text;
    let bytes: &[u8] = if std::str::from_utf8(v).is_ok() {
        v
    } else {
        text = String::from_utf8_lossy(v).into_owned();
        text.as_bytes()
    };
    find(bytes, &mut |h| {
        out.extend_from_slice(&bytes[last..h.start]);
        out.extend_from_slice(h.kind.token().as_bytes());
        last = h.end;
        true
    });
    out.extend_from_slice(&bytes[last..]);
}

fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// `local@domain` anywhere in the text (ASCII, or a run of non-ASCII letters on
/// either side, as in `山田@例え.jp`); `＠` counts as `@`.
fn emails(s: &str, hits: &mut Vec<Hit>) {
    for (at, c) in s.char_indices().filter(|(_, c)| *c == '@' || *c == '＠') {
        let before = &s[..at];
        let after = &s[at + c.len_utf8()..];
        // the local part: an ASCII run, or else a run of other letters
        let mut start = at;
        let ascii = before.chars().next_back().is_some_and(local_char);
        for (i, ch) in before.char_indices().rev() {
            let ok = if ascii {
                local_char(ch)
            } else {
                ch.is_alphanumeric() && !ch.is_ascii()
            };
            if !ok {
                break;
            }
            start = i;
        }
        if start == at {
            continue;
        }
        let ascii = after.chars().next().is_some_and(domain_char);
        let mut len = 0;
        for ch in after.chars() {
            let ok = if ascii {
                domain_char(ch)
            } else {
                ch.is_alphanumeric() || ch == '.' || ch == '-'
            };
            if !ok {
                break;
            }
            len += ch.len_utf8();
        }
        let domain = after[..len].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| l.is_empty())
            || labels.last().is_some_and(|t| t.chars().count() < 2)
        {
            continue;
        }
        hits.push(Hit {
            start,
            end: at + c.len_utf8() + domain.len(),
            kind: Sniffed::Email,
        });
    }
}

fn digit(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        Some(c as u8 - b'0')
    } else if ('０'..='９').contains(&c) {
        Some((c as u32 - '０' as u32) as u8)
    } else {
        None
    }
}

fn separator(c: char) -> bool {
    matches!(
        c,
        '-' | ' '
            | '('
            | ')'
            | '.'
            | '－'
            | '‐'
            | '‑'
            | '–'
            | '—'
            | '−'
            | 'ー'
            | '　'
            | '（'
            | '）'
            | '／'
            | '/'
    )
}

/// One group of digits inside a number-like token.
struct Group {
    start: usize,
    end: usize,
    digits: Vec<u8>,
    /// The separator text before it (empty for the first group).
    sep_before: String,
    plus: bool,
}

/// Phone and card numbers anywhere in the text: digits (ASCII or full-width) in groups
/// with at most two separator characters between them. Every run of consecutive groups
/// is tried, so a number inside a longer run of numbers is found too. A decimal number
/// (`0.0000000001`, one `.` and nothing else) is not a phone number, nor is a date.
fn numbers_in(s: &str, hits: &mut Vec<Hit>) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i].1).is_none() {
            i += 1;
            continue;
        }
        // a token: groups of digits joined by short separator runs
        let mut groups: Vec<Group> = Vec::new();
        let mut sep = String::new();
        let plus = i > 0 && matches!(chars[i - 1].1, '+' | '＋');
        let mut j = i;
        loop {
            let start = chars[j].0;
            let mut d = Vec::new();
            while j < chars.len()
                && let Some(x) = digit(chars[j].1)
            {
                d.push(x);
                j += 1;
            }
            let end = if j < chars.len() { chars[j].0 } else { s.len() };
            groups.push(Group {
                start,
                end,
                digits: d,
                sep_before: std::mem::take(&mut sep),
                plus: groups.is_empty() && plus,
            });
            let mut k = j;
            while k < chars.len() && separator(chars[k].1) && k - j < 3 {
                sep.push(chars[k].1);
                k += 1;
            }
            // `+81`: a plus inside the token starts a new international number
            let plus_next = k < chars.len() && matches!(chars[k].1, '+' | '＋');
            if plus_next && k + 1 < chars.len() && digit(chars[k + 1].1).is_some() {
                k += 1;
                sep.push('+');
            }
            if k > j && k < chars.len() && digit(chars[k].1).is_some() {
                j = k;
            } else {
                break;
            }
        }
        i = j.max(i + 1);
        classify(&groups, s, hits);
    }
}

fn classify(groups: &[Group], s: &str, hits: &mut Vec<Hit>) {
    let n = groups.len();
    // the two sides of a decimal point are one number, never a phone number apart
    let fraction = |i: usize| i > 0 && groups[i].sep_before == ".";
    for a in 0..n {
        if fraction(a) {
            continue;
        }
        let mut digits: Vec<u8> = Vec::new();
        let mut seps = String::new();
        let plus = groups[a].plus || groups[a].sep_before.ends_with('+');
        for b in a..n {
            if b > a {
                seps.push_str(&groups[b].sep_before);
            }
            digits.extend_from_slice(&groups[b].digits);
            if digits.len() > 19 {
                break;
            }
            if b + 1 < n && fraction(b + 1) {
                continue;
            }
            // whole groups only, and not glued to more digits than the run holds
            let text = &s[groups[a].start..groups[b].end];
            let kind = if is_decimal(&seps) || is_date(text) {
                None
            } else if card(&digits, &seps) {
                Some(Sniffed::Card)
            } else if phone(&digits, plus) {
                Some(Sniffed::Phone)
            } else {
                None
            };
            if let Some(kind) = kind {
                let start = if plus {
                    // include the `+`
                    s[..groups[a].start]
                        .char_indices()
                        .next_back()
                        .map(|(i, _)| i)
                        .unwrap_or(groups[a].start)
                } else {
                    groups[a].start
                };
                hits.push(Hit {
                    start,
                    end: groups[b].end,
                    kind,
                });
            }
        }
    }
}

fn is_decimal(seps: &str) -> bool {
    seps == "."
}

/// `2026-10-01`, `2026/10/01`, `2026.10.01` and with a time after it.
fn is_date(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b[4], b'-' | b'/' | b'.')
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b[4]
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// Japanese and international phone numbers: `0` then a non-zero digit and 10–11
/// digits in all (`090-1234-5678`, `03-1234-5678`, `0120-123-456`), or after a `+`
/// 10–15 digits (`+81 90 1234 5678`).
fn phone(d: &[u8], plus: bool) -> bool {
    if plus {
        return (10..=15).contains(&d.len()) && d[0] != 0;
    }
    (10..=11).contains(&d.len()) && d[0] == 0 && d[1] != 0
}

/// 13–19 digits (separated by spaces or `-` only) with a card brand prefix and a valid
/// Luhn check digit.
fn card(d: &[u8], seps: &str) -> bool {
    if !(13..=19).contains(&d.len())
        || !seps
            .chars()
            .all(|c| matches!(c, ' ' | '-' | '.' | '　' | '－'))
        || d.iter().all(|&x| x == d[0])
    {
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
    brand && luhn(d)
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

/// How many encodings deep the sniffer looks (base64 of hex of a value is found).
const DEPTH: u8 = 2;

/// The first personal value in decoded text, looking `depth` encodings deeper.
fn decoded_kind(d: &[u8], depth: u8) -> Option<Sniffed> {
    let t = std::str::from_utf8(d).ok()?;
    let mut inner = Vec::new();
    if t.contains('@') || t.contains('＠') {
        emails(t, &mut inner);
    }
    numbers_in(t, &mut inner);
    if inner.is_empty() && depth > 0 && t.len() >= MIN_ENCODED {
        encoded(t, &mut inner, depth - 1);
    }
    inner.first().map(|h| h.kind)
}

fn decode_run(run: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    // hex, also as MySQL (`0x…`) and PostgreSQL (`\x…`) write binary values
    let hex_body = if run.len() > 2 && (run.starts_with(b"0x") || run.starts_with(b"0X")) {
        &run[2..]
    } else if run.len() > 1 && run[0] == b'x' {
        &run[1..]
    } else {
        run
    };
    if hex_body.iter().all(u8::is_ascii_hexdigit)
        && let Ok(d) = hex::decode(&hex_body[..hex_body.len() & !1])
    {
        out.push(d);
    }
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        if let Ok(d) = engine.decode(run) {
            out.push(d);
            break;
        }
    }
    out
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')
}

/// Hex and base64 runs long enough to hide a value (`MIN_ENCODED` characters or more),
/// base64 wrapped over lines, and percent-encoded addresses: decoded and looked at
/// again, `depth` levels deep. A hit covers the whole encoded run.
fn encoded(s: &str, hits: &mut Vec<Hit>, depth: u8) {
    let b = s.as_bytes();
    // base64 as PostgreSQL's encode() writes it: lines of 76 characters
    if b.contains(&b'\n') {
        let compact: Vec<u8> = b
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let body = compact
            .strip_suffix(b"==")
            .or(compact.strip_suffix(b"="))
            .unwrap_or(&compact);
        if body.len() >= MIN_ENCODED
            && body.iter().all(|&c| is_b64(c))
            && let Some(kind) = decode_run(body).iter().find_map(|d| decoded_kind(d, depth))
        {
            hits.push(Hit {
                start: 0,
                end: b.len(),
                kind,
            });
            return;
        }
    }
    // `taro%40example.com`
    if memchr::memmem::find(b, b"%40").is_some() {
        let url = |c: u8| c.is_ascii_alphanumeric() || b"%._+-~".contains(&c);
        let mut i = 0;
        while let Some(k) = memchr::memmem::find(&b[i..], b"%40") {
            let at = i + k;
            let mut start = at;
            while start > 0 && url(b[start - 1]) {
                start -= 1;
            }
            let mut end = at + 3;
            while end < b.len() && url(b[end]) {
                end += 1;
            }
            let decoded: Vec<u8> = percent_decode(&b[start..end]);
            let mut inner = Vec::new();
            if let Ok(t) = std::str::from_utf8(&decoded) {
                emails(t, &mut inner);
            }
            if let Some(h) = inner.first() {
                hits.push(Hit {
                    start,
                    end,
                    kind: h.kind,
                });
            }
            i = end.max(at + 3);
        }
    }
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        let mut end = i;
        while end < b.len() && b[end] == b'=' && end - i < 2 {
            end += 1;
        }
        let run = &b[start..i];
        if run.len() >= MIN_ENCODED
            && let Some(kind) = decode_run(run).iter().find_map(|d| decoded_kind(d, depth))
        {
            hits.push(Hit { start, end, kind });
        }
        i = end.max(i);
    }
}

fn percent_decode(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
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

    /// Personal values hidden every way the issue names, and more.
    #[test]
    fn finds_personal_values_inside_text_and_encodings() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cases: Vec<(String, Sniffed)> = vec![
            (
                "memo: please mail taro@example.com asap".into(),
                Sniffed::Email,
            ),
            (
                "連絡先はtaro.yamada+x@mail.example.co.jpまで".into(),
                Sniffed::Email,
            ),
            ("TARO@EXAMPLE.COM;".into(), Sniffed::Email),
            ("a@b.jp;c@d.jp;e@f.jp".into(), Sniffed::Email),
            ("taro＠example.com".into(), Sniffed::Email),
            ("電話は090-1234-5678です".into(), Sniffed::Phone),
            ("tel 03-1234-5678".into(), Sniffed::Phone),
            ("0312345678".into(), Sniffed::Phone),
            ("09012345678".into(), Sniffed::Phone),
            ("(03) 1234-5678".into(), Sniffed::Phone),
            ("０３－１２３４－５６７８".into(), Sniffed::Phone),
            ("+81-90-1234-5678".into(), Sniffed::Phone),
            ("+1 415 555 0100".into(), Sniffed::Phone),
            ("09012345678;09012345679".into(), Sniffed::Phone),
            ("id 12 090 1234 5678".into(), Sniffed::Phone),
            ("0120-123-456".into(), Sniffed::Phone),
            ("pay with 4111-1111-1111-1111 please".into(), Sniffed::Card),
            ("4111111111111111".into(), Sniffed::Card),
            (
                "５５００　００００　００００　０００４".into(),
                Sniffed::Card,
            ),
            ("378282246310005".into(), Sniffed::Card),
            (hex::encode("taro@example.com"), Sniffed::Email),
            (hex::encode_upper("taro@example.com"), Sniffed::Email),
            (hex::encode("090-1234-5678"), Sniffed::Phone),
            (b64("taro@example.com"), Sniffed::Email),
            (b64("09012345678"), Sniffed::Phone),
            (b64("4111 1111 1111 1111"), Sniffed::Card),
            (format!("x;{}", b64("jiro@example.org")), Sniffed::Email),
            (
                format!("0x{}", hex::encode("taro@example.com")),
                Sniffed::Email,
            ),
            (
                format!("\\x{}", hex::encode("090-1234-5678")),
                Sniffed::Phone,
            ),
            (b64(&hex::encode("taro@example.com")), Sniffed::Email),
            (hex::encode(b64("09012345678")), Sniffed::Phone),
            ("dGFyb0BleGFt\ncGxlLmNvbQ==".into(), Sniffed::Email),
            ("mailto:taro%40example.com".into(), Sniffed::Email),
            ("4111.1111.1111.1111".into(), Sniffed::Card),
        ];
        for (v, want) in &cases {
            assert_eq!(sniff(v.as_bytes()), Some(*want), "{v}");
        }
    }

    #[test]
    fn typed_values_skip_the_number_detectors() {
        for v in [
            "2026-10-01",
            "2026-10-01 12:34",
            "2026-10-01 12:34:56",
            "2026-10-01T12:34:56.123456+09:00",
            "2026-10-01 00:00:00+09",
            "2026-10-01 00:00:00Z",
            "0.1234567890",
            "-12345678901234567890.0123456789",
            "1.5e-10",
            "1.0E+300",
        ] {
            assert!(is_typed_value(v.as_bytes()), "{v}");
        }
        for v in [
            "2026-10-01 090-1234-5678",
            "2026-10-01 12:34:56 090-1234-5678",
            "09012345678",
            "0.1.2",
            "1e5",
            "03.1234.5678",
        ] {
            assert!(!is_typed_value(v.as_bytes()), "{v}");
        }
        assert_eq!(sniff(b"2026-10-01 090-1234-5678"), Some(Sniffed::Phone));
    }

    /// Numbers, dates, booleans and ordinary text are not personal values.
    #[test]
    fn numbers_dates_and_text_pass() {
        for v in [
            "0.0000000001",
            "1.0E-10",
            "0.1234567890",
            "-0.1234567890",
            "12345678901234567890.0123456789",
            "9.999999999",
            "-9223372036854775808",
            "18446744073709551615",
            "0000012345",
            "0000000000",
            "2026-10-01",
            "2026-10-01 12:34:56",
            "2026-10-01T12:34:56.123456+09:00",
            "2026/10/01 00:00:00",
            "20261001123456",
            "true",
            "false",
            "12:34:56",
            "1,234,567,890",
            "note, with \"quotes\" #123456",
            "山田 太郎",
            "東京都千代田区",
            "paid",
            "user@localhost",
            "@mention and #tag",
            "{\"a\": [1, \"x\"]}",
            "550e8400-e29b-41d4-a716-446655440000",
            "internationalization",
            "4111 1111 1111 1112",
        ] {
            assert_eq!(sniff(v.as_bytes()), None, "{v}");
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
