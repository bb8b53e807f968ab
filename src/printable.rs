//! Text from input (item ids, hrefs, Dask keys, paths) made safe to print on a terminal.
//! A catalog or a task stream is data from elsewhere: an ESC in an item id would let it
//! move the cursor, rewrite earlier lines, set the window title or worse. The TUI's drawing
//! library never writes raw control characters; the headless commands print every line
//! through [`printable`].

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character but line feed and tab escaped as `\u{..}` (C0,
/// DEL, C1, including ESC and carriage return), and the bidirectional overrides that can
/// make a line read differently from what it holds (U+202A..U+202E, U+2066..U+2069).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_keeps_lines() {
        assert!(matches!(printable("S2A_31UFU\n\tok é"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\u{1b}]0;pwned\u{7}b\rc\u{9b}d\u{202e}"),
            "a\\u{1b}]0;pwned\\u{7}b\\u{d}c\\u{9b}d\\u{202e}"
        );
    }
}
