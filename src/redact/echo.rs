//! A server message cut down to what the statement itself says.
//!
//! Error codes whose messages normally name only things written in the query (unknown
//! column, unknown table, syntax error near …) can still carry a data value when a
//! query turns a value into a name: PostgreSQL `CAST(email AS regclass)` answers
//! `schema "taro@example" does not exist` (class 3F), `'a.b.c.d'::regclass` answers
//! `improper qualified name (too many dotted names): a.b.c.d` (class 42),
//! `CAST(x AS regprocedure)` answers `function taro(integer) does not exist`, and a
//! function may raise any code with any text. So the server's words for such codes are
//! kept only where they echo the statement sent: [`echo_only`] replaces every quoted
//! part and every name-like word that does not occur in the statement with `…`.
//!
//! Hand-written: no crate parses server messages; the rules are small and tested here.

/// Quoted words MySQL/MariaDB put into messages themselves (`in 'field list'`).
const MYSQL_CLAUSES: &[&str] = &[
    "field list",
    "where clause",
    "on clause",
    "order clause",
    "group statement",
    "having clause",
    "IN/ALL/ANY subquery",
    "from clause",
    "window order list",
    "window partition list",
    "partition function",
];

/// Plain numbers up to this many digits are kept (`at line 1`, `at most 1664
/// entries`); longer ones could be a phone or card number.
const MAX_NUMBER_DIGITS: usize = 5;

/// `message` with every part that is not in `statement` replaced by `…`: quoted parts
/// (`'x'`, `"x"`, `` `x` ``) unless the statement contains them (case-insensitively;
/// a dotted `db.table` needs only its last part there) or they are one of MySQL's own
/// clause words; outside quotes, every word that is not plain English (ASCII letters,
/// `'` and `-` inside), not a short number and not in the statement — and every word
/// directly followed by `(` (a function name) that is not in the statement.
pub fn echo_only(message: &str, statement: &str) -> String {
    let sql = statement.to_lowercase();
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_quote(c) && opens(&chars, i) {
            if let Some(end) = closing(&chars, i) {
                let inner: String = chars[i + 1..end].iter().collect();
                out.push(c);
                if quoted_ok(&inner, &sql) {
                    out.push_str(&inner);
                } else {
                    out.push('…');
                }
                out.push(c);
                i = end + 1;
                continue;
            }
            // an unclosed quote: the quote alone, then the words after it
            out.push(c);
            i += 1;
            continue;
        }
        if is_separator(c) {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && !is_separator(chars[i])
            && !(is_quote(chars[i]) && opens(&chars, i))
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let call = chars.get(i) == Some(&'(');
        if word_ok(&word, call, &sql) {
            out.push_str(&word);
        } else {
            out.push('…');
        }
    }
    out
}

fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '`')
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '[' | ']' | '{' | '}' | '=')
}

/// A quote opens a quoted part unless it follows a letter or digit (`doesn't`).
fn opens(chars: &[char], i: usize) -> bool {
    i == 0 || !chars[i - 1].is_alphanumeric()
}

/// The matching quote: the same character not followed by a letter or digit (a
/// doubled quote inside is part of the text).
fn closing(chars: &[char], open: usize) -> Option<usize> {
    let q = chars[open];
    let mut j = open + 1;
    while j < chars.len() {
        if chars[j] == q {
            if chars.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            if chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric()) {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

fn in_statement(s: &str, sql: &str) -> bool {
    sql.contains(&s.to_lowercase())
}

fn quoted_ok(inner: &str, sql: &str) -> bool {
    if inner.is_empty() || in_statement(inner, sql) || MYSQL_CLAUSES.contains(&inner) {
        return true;
    }
    // `db.table`, `schema.table`: the leading parts are names the server adds
    match inner.rsplit_once('.') {
        Some((lead, last)) => {
            !last.is_empty()
                && in_statement(last, sql)
                && lead.split('.').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                })
        }
        None => false,
    }
}

fn word_ok(word: &str, call: bool, sql: &str) -> bool {
    if in_statement(word, sql) {
        return true;
    }
    if call {
        return false;
    }
    let w = word.trim_end_matches(['.', '!', '?']);
    if w.is_empty() {
        return true;
    }
    if w.chars().all(|c| c.is_ascii_digit()) {
        return w.len() <= MAX_NUMBER_DIGITS;
    }
    let b = w.as_bytes();
    b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphabetic()
        && w.chars()
            .all(|c| c.is_ascii_alphabetic() || c == '\'' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::echo_only;

    #[test]
    fn names_from_the_statement_are_kept() {
        let pg = r#"SELECT "no_such_column" FROM "it_pii_members""#;
        assert_eq!(
            echo_only(r#"column "no_such_column" does not exist"#, pg),
            r#"column "no_such_column" does not exist"#
        );
        assert_eq!(
            echo_only(
                "function no_such_fn(integer) does not exist",
                "SELECT no_such_fn(1)"
            ),
            "function no_such_fn(integer) does not exist"
        );
        let my = "SELECT `emial` FROM `members`";
        assert_eq!(
            echo_only("Unknown column 'emial' in 'field list'", my),
            "Unknown column 'emial' in 'field list'"
        );
        assert_eq!(
            echo_only("Table 'sqlcourier_test.members' doesn't exist", my),
            "Table 'sqlcourier_test.members' doesn't exist"
        );
        let syntax = "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'FORM `members`' at line 1";
        assert_eq!(echo_only(syntax, "SELECT 1 FORM `members`"), syntax);
        assert_eq!(
            echo_only(
                "Query execution was interrupted (max_statement_time exceeded)",
                "SELECT 1"
            ),
            "Query execution was interrupted (… exceeded)"
        );
    }

    #[test]
    fn values_turned_into_names_are_cut() {
        let sql =
            r#"COPY (SELECT CAST("email" AS regclass) AS "n" FROM "it_pii_members") TO STDOUT"#;
        for (message, want) in [
            (
                r#"schema "m1.pii-secret@example" does not exist"#,
                r#"schema "…" does not exist"#,
            ),
            (
                r#"relation "taro" does not exist"#,
                r#"relation "…" does not exist"#,
            ),
            (
                "improper qualified name (too many dotted names): a.b.c.d",
                "improper qualified name (too many dotted names): …",
            ),
            (
                "function taro(integer) does not exist",
                "function …(integer) does not exist",
            ),
            (
                r#"cross-database references are not implemented: "m1.pii-secret@example.com""#,
                r#"cross-database references are not implemented: "…""#,
            ),
            (
                "Unknown column '秘密' in 'field list'",
                "Unknown column '…' in 'field list'",
            ),
            (
                "Duplicate entry 'taro1' for key",
                "Duplicate entry '…' for key",
            ),
            ("value 09055550001 here", "value … here"),
            ("mail taro@example.com now", "mail … now"),
            ("全角の秘密", "…"),
        ] {
            assert_eq!(echo_only(message, sql), want, "{message}");
        }
        // a dotted name whose last part is not in the statement is cut whole
        assert_eq!(
            echo_only(r#"relation "public.taro" does not exist"#, sql),
            r#"relation "…" does not exist"#
        );
        // an unclosed quote does not hide what follows
        assert_eq!(echo_only("near 'taro@example.com", sql), "near '…");
    }
}
