//! The content-line layer of RFC 5545: line endings, unfolding, and `NAME;PARAM=V:VALUE`.
//!
//! Linear in the input and tolerant: any of CRLF, LF or CR ends a line, a BOM is dropped,
//! invalid UTF-8 is replaced (the caller is told where), and each line keeps the number of
//! the source line it started on so every warning can point at it.
use std::borrow::Cow;

/// One logical (unfolded) line.
#[derive(Debug, Clone)]
pub struct ContentLine<'a> {
    /// 1-based number of the physical line the logical line starts on.
    pub line: usize,
    /// Upper-cased property name.
    pub name: Cow<'a, str>,
    params: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

impl<'a> ContentLine<'a> {
    /// The value of a parameter (name compared ignoring case), quotes removed.
    /// The parameters as written (`;TZID=…;VALUE=…`), for fingerprints and stored text.
    pub fn raw_params(&self) -> &str {
        &self.params
    }

    pub fn into_owned(self) -> ContentLine<'static> {
        ContentLine {
            line: self.line,
            name: Cow::Owned(self.name.into_owned()),
            params: Cow::Owned(self.params.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        params(&self.params).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

fn params(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        let r = rest.strip_prefix(';')?;
        let eq = r.find('=')?;
        let name = &r[..eq];
        let after = &r[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            let v = &q[..end];
            let tail = &q[(end + 1).min(q.len())..];
            (v, tail.find(';').map_or("", |i| &tail[i..]))
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        rest = next;
        Some((name, value))
    })
}

/// The decoded text of a feed: BOM removed, invalid UTF-8 replaced.
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// The source line of the first invalid UTF-8 sequence, if there was one.
    pub invalid_utf8_line: Option<usize>,
}

pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded { text: Cow::Borrowed(text), invalid_utf8_line: None },
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            Decoded { text: String::from_utf8_lossy(bytes), invalid_utf8_line: Some(line) }
        }
    }
}

/// A line that could not be split into name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Iterates over the logical lines of `text`, yielding a content line or why it is broken.
pub fn content_lines(text: &str) -> impl Iterator<Item = Result<ContentLine<'_>, BadLine>> {
    Unfold { text, pos: 0, line: 0 }.filter_map(|(line, raw)| {
        if raw.trim().is_empty() {
            return None;
        }
        Some(split(line, raw))
    })
}

/// Physical lines joined by folding; yields (first line number, logical line).
struct Unfold<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Unfold<'a> {
    /// The next physical line: (text without its ending, offset after the ending).
    fn physical(&self, from: usize) -> Option<(&'a str, usize)> {
        if from >= self.text.len() {
            return None;
        }
        let bytes = self.text.as_bytes();
        let rest = &bytes[from..];
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => Some((&self.text[from..], self.text.len())),
            Some(i) => {
                let end = from + i;
                let skip = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') { 2 } else { 1 };
                Some((&self.text[from..end], end + skip))
            }
        }
    }
}

impl<'a> Iterator for Unfold<'a> {
    type Item = (usize, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let (first, mut next) = self.physical(self.pos)?;
        self.line += 1;
        let start_line = self.line;
        let mut joined: Option<String> = None;
        // A following line that starts with a space or tab continues this one.
        while let Some((cont, after)) = self.physical(next) {
            let Some(tail) = cont.strip_prefix([' ', '\t']) else { break };
            joined.get_or_insert_with(|| first.to_owned()).push_str(tail);
            self.line += 1;
            next = after;
        }
        self.pos = next;
        Some((start_line, joined.map_or(Cow::Borrowed(first), Cow::Owned)))
    }
}

fn split(line: usize, raw: Cow<'_, str>) -> Result<ContentLine<'_>, BadLine> {
    let bad = |message: String| BadLine { line, message };
    let name_end = raw.find([';', ':']).ok_or_else(|| bad(format!("expected NAME:VALUE, found \"{}\"", excerpt(&raw))))?;
    let name = &raw[..name_end];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(bad(format!("\"{}\" is not a property name", excerpt(name))));
    }
    // The value starts at the first ':' outside a quoted parameter value.
    let mut in_quotes = false;
    let colon = raw.as_bytes()[name_end..]
        .iter()
        .position(|&b| {
            in_quotes ^= b == b'"';
            b == b':' && !in_quotes
        })
        .map(|i| name_end + i);
    let colon = colon.ok_or_else(|| bad(format!("{name} has no ':' before its value")))?;
    let upper = name.bytes().any(|b| b.is_ascii_lowercase()).then(|| name.to_ascii_uppercase());
    Ok(match raw {
        Cow::Borrowed(s) => ContentLine {
            line,
            name: upper.map_or(Cow::Borrowed(&s[..name_end]), Cow::Owned),
            params: Cow::Borrowed(&s[name_end..colon]),
            value: Cow::Borrowed(&s[colon + 1..]),
        },
        Cow::Owned(s) => ContentLine {
            line,
            name: Cow::Owned(upper.unwrap_or_else(|| s[..name_end].to_owned())),
            params: Cow::Owned(s[name_end..colon].to_owned()),
            value: Cow::Owned(s[colon + 1..].to_owned()),
        },
    })
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String, String)> {
        content_lines(text).map(|l| l.map(|l| (l.line, l.name.into_owned(), l.value.into_owned())).map_err(|e| e.line)).filter_map(Result::ok).collect()
    }

    #[test]
    fn any_line_ending_and_folding() {
        let text = "BEGIN:VEVENT\r\nSUMMARY:a\r\n  b\nuid:1\rDESCRIPTION:x\n\ty\nEND:VEVENT";
        assert_eq!(
            lines(text),
            vec![
                (1, "BEGIN".into(), "VEVENT".into()),
                (2, "SUMMARY".into(), "a b".into()),
                (4, "UID".into(), "1".into()),
                (5, "DESCRIPTION".into(), "xy".into()),
                (7, "END".into(), "VEVENT".into()),
            ]
        );
    }

    #[test]
    fn quoted_parameters_may_hold_colons() {
        let text = "ATTENDEE;CN=\"Doe: Jane\";ROLE=CHAIR:mailto:j@example.com";
        let line = content_lines(text).next().unwrap().unwrap();
        assert_eq!(line.param("cn"), Some("Doe: Jane"));
        assert_eq!(line.param("ROLE"), Some("CHAIR"));
        assert_eq!(line.value, "mailto:j@example.com");
    }

    #[test]
    fn broken_lines_say_where() {
        let errors: Vec<_> = content_lines("A:1\nno colon here\n:x\n").filter_map(Result::err).collect();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn bom_and_invalid_utf8() {
        let decoded = decode(b"\xEF\xBB\xBFA:1\nB:\xFF\n");
        assert_eq!(decoded.invalid_utf8_line, Some(2));
        assert!(decoded.text.starts_with("A:1"));
    }
}
