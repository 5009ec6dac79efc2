//! The CP932 (Windows-31J) policy for characters that Unicode has twice.
//!
//! JIS X 0208 and Microsoft's CP932 map a handful of Shift_JIS codes to different
//! Unicode characters (the "wave dash problem"). Text typed on a Mac or taken from a
//! JIS-based system holds the JIS characters; Windows holds the CP932 ones. The policy
//! is **map every one of them, the way Microsoft's converters (`WideCharToMultiByte`,
//! .NET's `shift_jis`, Java's `MS932`) do**: each character below is written as the
//! Shift_JIS code that Windows reads back as its CP932 twin. Excel then shows the
//! twin, which looks the same. No other character is substituted: anything else CP932
//! cannot hold fails the file (row, column and code point, never the value).
//!
//! `encoding_rs`'s WHATWG Shift_JIS encoder maps one of these (U+2212) on its own and
//! refuses the others; this table makes the whole family one rule. (¥ U+00A5 and
//! ‾ U+203E are written as the bytes 5C and 7E, as WHATWG and Windows both do.)

/// (character, its CP932 twin, the Shift_JIS bytes written). Keep README.md
/// "CSV format" → "CP932 look-alikes" in step.
pub const COUNTERPARTS: &[(char, char, [u8; 2])] = &[
    ('\u{301C}', '\u{FF5E}', [0x81, 0x60]), // WAVE DASH → FULLWIDTH TILDE
    ('\u{2016}', '\u{2225}', [0x81, 0x61]), // DOUBLE VERTICAL LINE → PARALLEL TO
    ('\u{2212}', '\u{FF0D}', [0x81, 0x7C]), // MINUS SIGN → FULLWIDTH HYPHEN-MINUS
    ('\u{2014}', '\u{2015}', [0x81, 0x5C]), // EM DASH → HORIZONTAL BAR
    ('\u{00A2}', '\u{FFE0}', [0x81, 0x91]), // CENT SIGN → FULLWIDTH CENT SIGN
    ('\u{00A3}', '\u{FFE1}', [0x81, 0x92]), // POUND SIGN → FULLWIDTH POUND SIGN
    ('\u{00AC}', '\u{FFE2}', [0x81, 0xCA]), // NOT SIGN → FULLWIDTH NOT SIGN
    ('\u{00A6}', '\u{FFE4}', [0xFA, 0x55]), // BROKEN BAR → FULLWIDTH BROKEN BAR
];

/// The CP932 twin of `c`, if `c` is one of [`COUNTERPARTS`].
#[inline]
pub fn counterpart(c: char) -> Option<char> {
    // all of them are in U+00A2..=U+301C: one range test keeps ordinary text fast
    if !('\u{00A2}'..='\u{301C}').contains(&c) {
        return None;
    }
    COUNTERPARTS
        .iter()
        .find(|(from, _, _)| *from == c)
        .map(|(_, to, _)| *to)
}

/// `text` with every [`COUNTERPARTS`] character replaced by its twin, and how many were
/// replaced; `None` when there is none (the common case, no allocation).
pub fn substitute(text: &str) -> Option<(String, u64)> {
    if !text.chars().any(|c| counterpart(c).is_some()) {
        return None;
    }
    let mut n = 0;
    let out = text
        .chars()
        .map(|c| match counterpart(c) {
            Some(t) => {
                n += 1;
                t
            }
            None => c,
        })
        .collect();
    Some((out, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counterpart_is_written_as_windows_reads_it() {
        for &(from, to, bytes) in COUNTERPARTS {
            // the twin is what the encoder writes …
            let twin = to.to_string();
            let (enc, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&twin);
            assert!(!unmappable, "U+{:04X}", to as u32);
            assert_eq!(&enc[..], &bytes, "U+{:04X}", from as u32);
            // … and what a Windows-compatible decoder reads back
            let (dec, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
            assert!(!bad);
            assert_eq!(dec.chars().next(), Some(to));
            assert_eq!(counterpart(from), Some(to));
        }
        assert_eq!(counterpart('A'), None);
        assert_eq!(counterpart('東'), None);
        assert_eq!(substitute("plain 東京"), None);
        assert_eq!(
            substitute("1\u{301C}2 \u{2212}3").unwrap(),
            ("1\u{FF5E}2 \u{FF0D}3".to_string(), 2)
        );
    }
}
