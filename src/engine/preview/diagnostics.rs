//! Pulumi's diagnostics, the same in both preview forms: errors and warnings kept, the prefix
//! folded into the message, color markup stripped.

use super::Diagnostic;

/// Keeps a diagnostic when it is an error or a warning; folds the prefix into the message the
/// way the digest does and strips color markup.
pub(super) fn diagnostic(
    urn: Option<String>,
    prefix: Option<String>,
    message: Option<String>,
    severity: Option<String>,
) -> Option<Diagnostic> {
    let severity = severity.filter(|s| s == "error" || s == "warning")?;
    let text = format!(
        "{}{}",
        prefix.unwrap_or_default(),
        message.unwrap_or_default()
    );
    Some(Diagnostic {
        urn: urn.filter(|u| !u.is_empty()),
        severity,
        message: strip_color(&text).trim().to_owned(),
    })
}

/// Removes Pulumi's color markup (`<{%fg 3%}>`, `<{%reset%}>`, ...).
fn strip_color(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<{%") {
        out.push_str(&rest[..start]);
        match rest[start..].find("%}>") {
            Some(end) => rest = &rest[start + end + 3..],
            None => {
                // An unterminated tag is text, not markup.
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_color_markup_only() {
        assert_eq!(strip_color("<{%bold%}>a<{%reset%}>b"), "ab");
        assert_eq!(strip_color("a < b {% c"), "a < b {% c");
        assert_eq!(strip_color("x<{%fg 1"), "x<{%fg 1");
    }
}
