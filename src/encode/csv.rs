use std::io::Write;

use super::{EncodeError, Encoding};

/// Writes CSV records field by field into `out`, encoding as it goes.
pub struct CsvEncoder<W: Write> {
    out: W,
    encoding: Encoding,
    columns: Vec<String>,
    /// Data rows written so far (the header is not counted).
    rows: u64,
    field: usize,
    scratch: Vec<u8>,
    cp932: Vec<u8>,
    /// Characters written as their CP932 twin ([`super::cp932`]), for the log.
    pub cp932_substituted: u64,
}

#[inline]
fn needs_quotes(b: &[u8]) -> bool {
    b.is_empty() || b.iter().any(|&c| matches!(c, b',' | b'"' | b'\r' | b'\n'))
}

impl<W: Write> CsvEncoder<W> {
    pub fn new(out: W, encoding: Encoding) -> Self {
        CsvEncoder {
            out,
            encoding,
            columns: Vec::new(),
            rows: 0,
            field: 0,
            scratch: Vec::with_capacity(256),
            cp932: Vec::with_capacity(256),
            cp932_substituted: 0,
        }
    }

    /// Writes the byte order mark (for `utf-8-bom`) and the header row.
    pub fn header(&mut self, columns: &[String]) -> Result<(), EncodeError> {
        if self.encoding == Encoding::Utf8Bom {
            self.out.write_all(b"\xEF\xBB\xBF")?;
        }
        self.columns = columns.to_vec();
        for c in columns {
            self.field(Some(c.as_bytes()), false)?;
        }
        self.end_record()?;
        self.rows = 0;
        Ok(())
    }

    /// Writes one field. `None` is SQL NULL. `apostrophe` prefixes `'` (formula guard).
    #[inline]
    pub fn field(&mut self, value: Option<&[u8]>, apostrophe: bool) -> Result<(), EncodeError> {
        if self.field > 0 {
            self.out.write_all(b",")?;
        }
        self.field += 1;
        let Some(v) = value else {
            return Ok(());
        };
        if self.encoding == Encoding::Cp932 {
            return self.field_cp932(v, apostrophe);
        }
        if !needs_quotes(v) {
            if apostrophe {
                self.out.write_all(b"'")?;
            }
            self.out.write_all(v)?;
            return Ok(());
        }
        self.out
            .write_all(if apostrophe { b"\"'" } else { b"\"" })?;
        let mut start = 0;
        for (i, &c) in v.iter().enumerate() {
            if c == b'"' {
                self.out.write_all(&v[start..=i])?;
                self.out.write_all(b"\"")?;
                start = i + 1;
            }
        }
        self.out.write_all(&v[start..])?;
        self.out.write_all(b"\"")?;
        Ok(())
    }

    fn field_cp932(&mut self, v: &[u8], apostrophe: bool) -> Result<(), EncodeError> {
        let column = || {
            self.columns
                .get(self.field - 1)
                .cloned()
                .unwrap_or_else(|| format!("#{}", self.field))
        };
        let text = std::str::from_utf8(v).map_err(|_| EncodeError::NotText {
            row: self.rows + 1,
            column: column(),
        })?;
        // one policy for the whole look-alike family (encode/cp932.rs)
        let mapped = super::cp932::substitute(text);
        let (text, v) = match &mapped {
            Some((t, n)) => {
                self.cp932_substituted += n;
                (t.as_str(), t.as_bytes())
            }
            None => (text, v),
        };
        self.scratch.clear();
        if needs_quotes(v) {
            self.scratch.push(b'"');
            if apostrophe {
                self.scratch.push(b'\'');
            }
            for &c in v {
                if c == b'"' {
                    self.scratch.push(b'"');
                }
                self.scratch.push(c);
            }
            self.scratch.push(b'"');
        } else {
            if apostrophe {
                self.scratch.push(b'\'');
            }
            self.scratch.extend_from_slice(v);
        }
        if text.is_ascii() {
            self.out.write_all(&self.scratch)?;
            return Ok(());
        }
        let src = std::str::from_utf8(&self.scratch).expect("escaped UTF-8 stays UTF-8");
        let mut enc = encoding_rs::SHIFT_JIS.new_encoder();
        self.cp932.clear();
        self.cp932.reserve(src.len() * 2 + 8);
        let (res, _read) =
            enc.encode_from_utf8_to_vec_without_replacement(src, &mut self.cp932, true);
        match res {
            encoding_rs::EncoderResult::InputEmpty => {}
            encoding_rs::EncoderResult::Unmappable(ch) => {
                return Err(EncodeError::Unmappable {
                    row: self.rows + 1,
                    column: column(),
                    codepoint: ch as u32,
                });
            }
            encoding_rs::EncoderResult::OutputFull => unreachable!("vec output grows"),
        }
        self.out.write_all(&self.cp932)?;
        Ok(())
    }

    pub fn end_record(&mut self) -> Result<(), EncodeError> {
        self.out.write_all(b"\r\n")?;
        self.field = 0;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(enc: Encoding, rows: &[&[Option<&str>]]) -> Result<Vec<u8>, EncodeError> {
        let mut w = CsvEncoder::new(Vec::new(), enc);
        w.header(&["a".into(), "b".into()])?;
        for r in rows {
            for c in *r {
                w.field(c.map(str::as_bytes), false)?;
            }
            w.end_record()?;
        }
        Ok(w.into_inner())
    }

    #[test]
    fn rfc4180_quoting_and_null_vs_empty() {
        let out = write(
            Encoding::Utf8,
            &[
                &[Some("x,y"), Some("say \"hi\"")],
                &[None, Some("")],
                &[Some("line1\nline2"), Some("cr\r")],
                &[Some("東京都"), Some("plain")],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n,\"\"\r\n\"line1\nline2\",\"cr\r\"\r\n東京都,plain\r\n"
        );
    }

    #[test]
    fn bom_prefix() {
        let out = write(Encoding::Utf8Bom, &[]).unwrap();
        assert_eq!(out, b"\xEF\xBB\xBFa,b\r\n");
    }

    #[test]
    fn cp932_encodes_japanese_and_refuses_emoji_naming_the_place() {
        let out = write(Encoding::Cp932, &[&[Some("東京都"), Some("ｱ①")]]).unwrap();
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&out);
        assert!(!bad);
        assert_eq!(text, "a,b\r\n東京都,ｱ①\r\n");
        let err = write(
            Encoding::Cp932,
            &[&[Some("ok"), Some("ok")], &[Some("x"), Some("寿司🍣")]],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("row 2, column `b`"), "{msg}");
        assert!(
            !msg.contains("寿司"),
            "the value must not be in the message: {msg}"
        );
    }

    /// Regression: U+2212 was substituted silently while WAVE DASH, EM DASH, DOUBLE
    /// VERTICAL LINE, NOT SIGN, CENT and POUND were refused. Now the whole family is
    /// written as Windows reads it, and counted.
    #[test]
    fn cp932_writes_every_look_alike_as_its_windows_twin() {
        use super::super::cp932::COUNTERPARTS;
        let family: String = COUNTERPARTS.iter().map(|(c, _, _)| *c).collect();
        let twins: String = COUNTERPARTS.iter().map(|(_, t, _)| *t).collect();
        let mut w = CsvEncoder::new(Vec::new(), Encoding::Cp932);
        w.header(&["a".into(), "b".into()]).unwrap();
        w.field(Some(family.as_bytes()), false).unwrap();
        w.field(Some("10\u{301C}20, \"x\"".as_bytes()), false)
            .unwrap();
        w.end_record().unwrap();
        assert_eq!(w.cp932_substituted, COUNTERPARTS.len() as u64 + 1);
        let out = w.into_inner();
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&out);
        assert!(!bad);
        assert_eq!(
            text,
            format!("a,b\r\n{twins},\"10\u{FF5E}20, \"\"x\"\"\"\r\n")
        );
        // characters without a twin are still refused, by code point
        for refused in ["🍣", "\u{00E9}", "\u{20AC}", "\u{2E3A}"] {
            let err = write(Encoding::Cp932, &[&[Some(refused), None]]).unwrap_err();
            assert!(
                err.to_string().contains("cannot represent"),
                "{refused}: {err}"
            );
        }
    }

    #[test]
    fn apostrophe_prefix_goes_inside_the_field() {
        let mut w = CsvEncoder::new(Vec::new(), Encoding::Utf8);
        w.field(Some(b"=1+1"), true).unwrap();
        w.field(Some(b"=a,b"), true).unwrap();
        w.end_record().unwrap();
        assert_eq!(w.into_inner(), b"'=1+1,\"'=a,b\"\r\n");
    }
}
