//! How an error and its causes are said on one line: the one formatter the CLI, the TUI
//! and the lesson's text share, so a chain reads the same wherever it is shown. Pure; runs
//! on whichever thread has the error.
//!
//! The engine's errors keep what caused them as `#[source]` (thiserror); a message that is
//! chunkscope's own words stays in the error's `Display`. Printing only `Display` (with
//! `to_string()` or `{e}`) drops the causes: print [`chain`] instead.

use std::error::Error;

/// `err` and each error under it (`source()` after `source()`), joined by `": "`:
/// `outer: inner: cause`, as anyhow's `{:#}` writes it.
///
/// A cause whose message the error above it already holds is not repeated: some errors
/// still say their cause in their own message too, for front ends that print only
/// `Display`, or say it in the middle of a sentence that ends with what to do (snafu's
/// `CleanedErrorText` trims a repeated cause the same way, at the end only).
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut above = text.clone();
    let mut next = err.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        if !above.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        above = message;
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the file")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("reading its header")]
    struct Inner(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the file: {0}")]
    struct SaysItsCause(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the file ({0}); check its permissions")]
    struct SaysItsCauseInside(#[source] std::io::Error);

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    #[test]
    fn a_chain_reads_outer_inner_cause() {
        let err = Outer(Inner(denied()));
        assert_eq!(
            chain(&err),
            "cannot open the file: reading its header: permission denied"
        );
    }

    #[test]
    fn an_error_without_a_source_is_its_message() {
        assert_eq!(chain(&denied()), "permission denied");
    }

    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let err = SaysItsCause(denied());
        assert_eq!(chain(&err), "cannot open the file: permission denied");
        let err = SaysItsCauseInside(denied());
        assert_eq!(
            chain(&err),
            "cannot open the file (permission denied); check its permissions"
        );
        let err = Outer(Inner(std::io::Error::other("")));
        assert_eq!(chain(&err), "cannot open the file: reading its header");
    }

    #[test]
    fn anyhow_context_reads_as_anyhow_writes_it() {
        let err = anyhow::Error::new(Inner(denied())).context("loading \"a.json\"");
        assert_eq!(chain(err.as_ref()), format!("{err:#}"));
        assert_eq!(
            chain(err.as_ref()),
            "loading \"a.json\": reading its header: permission denied"
        );
    }
}
