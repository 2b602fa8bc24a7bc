//! Escaping for the Markdown comment. Every piece of text that comes from a preview or a user
//! (URNs, names, messages, diffs, logins, reasons) passes through one of these functions before it
//! reaches the comment, so that it cannot close its block, break a table, mention anyone, start
//! HTML, or imitate the bot (its marker or a `/iamgate` command). Pure string functions, no I/O;
//! this module never decides what to show, only how to show it safely.

use std::borrow::Cow;

/// Zero-width joiner: invisible, and breaks `@mention`, `<!--` and `/command` patterns.
pub const ZWJ: char = '\u{200D}';

/// Inline Markdown text (paragraphs, list items, headings, table cells): one line, no markup.
///
/// Newlines become spaces; `&`, `<`, `>` become entities; Markdown punctuation is
/// backslash-escaped (including `|`, so the result is safe in a table cell); every `@` is followed
/// by a zero-width joiner so that no one is mentioned; a leading `/` is escaped so that the text
/// cannot start a command line (commands count only at the start of a line, and the result has
/// no line breaks, so `/iamgate` elsewhere stays copyable).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut leading = true;
    for c in s.chars() {
        let at_start = leading;
        leading = leading && (c.is_whitespace() || c.is_control());
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            '/' if at_start => out.push_str("\\/"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if is_line_break_or_control(c) => out.push(' '),
            c if is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text inside raw HTML (`<summary>`, `<code>`): one line, entities only (Markdown punctuation
/// too, so the text stays inert even where a forge does read Markdown inside HTML).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut leading = true;
    for c in s.chars() {
        let at_start = leading;
        leading = leading && (c.is_whitespace() || c.is_control());
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            '/' if at_start => out.push_str("&#47;"),
            // Markdown punctuation as entities: inert whether or not the forge reads Markdown here.
            '`' | '*' | '_' | '[' | ']' | '|' | '~' | '\\' | '$' | '#' => {
                out.push_str(&format!("&#{};", u32::from(c)));
            }
            c if is_line_break_or_control(c) => out.push(' '),
            c if is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A complete inline code span (delimiters included), for use outside tables. Besides the marker,
/// `@` is broken too (invisibly), as in [`text`]. Never place it at the start of a line.
pub fn code_span(s: &str) -> String {
    span(s, false)
}

/// A complete inline code span that is also safe inside a GFM table cell (`|` is escaped, which
/// GitHub and GitLab undo inside a cell).
pub fn cell_code_span(s: &str) -> String {
    span(s, true)
}

fn span(s: &str, in_table: bool) -> String {
    let mut body: String = s
        .chars()
        .map(|c| {
            if is_line_break_or_control(c) {
                ' '
            } else if is_bidi_control(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    body = neutralize_marker(&body).replace('@', "@\u{200D}");
    if body.trim().is_empty() {
        // An empty or blank span does not render as code; say what it is instead.
        return "*(empty)*".to_owned();
    }
    if in_table {
        body = body.replace('|', "\\|");
    }
    let fence = "`".repeat(longest_run(&body, '`') + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A complete fenced code block (opening fence with `info`, body, closing fence, trailing
/// newline). The fence is longer than any run of backticks in `body`, so nothing in the body can
/// close it. Inside, the bot's marker and line-leading `/` commands are broken with a zero-width
/// joiner; everything else is kept as is (Markdown, HTML and mentions are inert in code).
pub fn code_block(info: &str, body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let body = neutralize_marker(&body);
    let fence = "`".repeat((longest_run(&body, '`') + 1).max(3));
    let info: String = info
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut out = String::with_capacity(body.len() + 2 * fence.len() + info.len() + 8);
    out.push_str(&fence);
    out.push_str(&info);
    out.push('\n');
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('/') {
            let indent = line.len() - trimmed.len();
            out.push_str(&line[..indent]);
            out.push(ZWJ);
            out.push_str(trimmed);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    let keep: String = s.chars().take(max.saturating_sub(1)).collect();
    Cow::Owned(format!("{keep}…"))
}

/// Breaks every `<!--` so that input cannot carry the bot's hidden marker (or any comment).
fn neutralize_marker(s: &str) -> Cow<'_, str> {
    if s.contains("<!--") {
        Cow::Owned(s.replace("<!--", "<!\u{200D}--"))
    } else {
        Cow::Borrowed(s)
    }
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

fn is_line_break_or_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Bidirectional overrides and isolates, which can make text display differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a raw body line would read as an `/iamgate` command (or any slash command).
    fn has_command_line(s: &str) -> bool {
        s.lines().any(|l| l.trim_start().starts_with('/'))
    }

    #[test]
    fn text_neutralizes_mentions_of_users_and_teams() {
        let out = text("ping @alice and @acme/security");
        assert!(!out.contains("@a"), "{out}");
        assert!(out.contains("@\u{200D}alice"));
        assert!(out.contains("@\u{200D}acme/security"));
        // Text without @ is untouched by this rule.
        assert_eq!(text("alice"), "alice");
    }

    #[test]
    fn text_cannot_start_html_or_carry_the_marker() {
        let out = text("<!-- iamgate:report --><img src=x onerror=alert(1)>");
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert!(out.starts_with("&lt;!--"));
        assert_eq!(text("a & b"), "a &amp; b");
    }

    #[test]
    fn text_cannot_break_a_table_or_the_line() {
        let out = text("a|b\n| --- |\r\nc\u{2028}d");
        assert!(!out.contains('\n') && !out.contains('\r'), "{out:?}");
        assert!(out.contains("a\\|b"));
        assert!(!out.replace("\\|", "").contains('|'), "{out}");
    }

    #[test]
    fn text_escapes_markdown_links_and_emphasis() {
        let out = text("[click](https://evil) **bold** `code` ~~x~~ #1");
        assert!(out.contains("\\[click\\]"), "{out}");
        assert!(out.contains("\\*\\*bold\\*\\*"));
        assert!(out.contains("\\`code\\`"));
        assert!(out.contains("\\~\\~x"));
        // Plain words, dots and hyphens are left readable.
        assert_eq!(text("my-role.v2 (prod)"), "my-role.v2 (prod)");
    }

    #[test]
    fn text_cannot_start_a_command_line() {
        assert_eq!(text("/iamgate approve"), "\\/iamgate approve");
        assert!(!has_command_line(&text("/merge")));
        assert!(!has_command_line(&text("  /merge")));
        assert!(!has_command_line(&text("x\n/iamgate override because")));
        // Mid-line, a command stays whole so that readers can copy it; so does a type path.
        assert_eq!(
            text("then comment /iamgate rerun"),
            "then comment /iamgate rerun"
        );
        assert_eq!(text("aws:iam/role:Role"), "aws:iam/role:Role");
    }

    #[test]
    fn text_replaces_bidi_overrides() {
        let out = text("admin\u{202E}txt.exe");
        assert!(!out.contains('\u{202E}'));
        assert!(out.contains('\u{FFFD}'));
    }

    #[test]
    fn html_escapes_for_raw_html_context() {
        let out = html("</summary><b onclick=\"x\">@bob's</b>");
        assert!(
            !out.contains('<') && !out.contains('"') && !out.contains('\''),
            "{out}"
        );
        assert!(out.contains("@\u{200D}bob"));
        // Markdown punctuation becomes entities, not backslashes (which would show in HTML).
        assert_eq!(html("my_role*"), "my&#95;role&#42;");
        assert_eq!(
            html("[l](http://e) `x`"),
            "&#91;l&#93;(http://e) &#96;x&#96;"
        );
        assert_eq!(html("my-role.v2"), "my-role.v2");
        assert_eq!(html("/iamgate approve"), "&#47;iamgate approve");
    }

    #[test]
    fn code_span_outlasts_backticks_in_content() {
        assert_eq!(code_span("role"), "`role`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("``x"), "``` ``x ```");
        assert_eq!(code_span(""), "*(empty)*");
        assert!(!code_span("a\nb").contains('\n'));
    }

    #[test]
    fn cell_code_span_escapes_pipes_only_in_cells() {
        assert_eq!(cell_code_span("a|b"), "`a\\|b`");
        assert_eq!(code_span("a|b"), "`a|b`");
    }

    #[test]
    fn spans_cannot_mention() {
        assert_eq!(
            code_span("@alice /iamgate approve"),
            "`@\u{200D}alice /iamgate approve`"
        );
    }

    #[test]
    fn code_blocks_keep_mentions_verbatim_inside_the_fence() {
        // Forges do not notify mentions in code blocks; policy text (emails) stays exact.
        assert!(code_block("diff", "+ \"bob@example.com\"\n").contains("bob@example.com"));
    }

    #[test]
    fn spans_and_blocks_cannot_carry_the_marker() {
        for out in [
            code_span("<!-- iamgate:report -->"),
            code_block("diff", "+ <!-- iamgate:report -->\n"),
        ] {
            assert!(!out.contains("<!--"), "{out}");
            assert!(out.contains("iamgate:report"));
        }
    }

    #[test]
    fn code_block_fence_is_longer_than_any_backtick_run() {
        let body = "+ \"```\"\n```\n+ ``````\n";
        let out = code_block("diff", body);
        let fence = out
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches("diff");
        assert_eq!(fence, "```````");
        assert!(out.trim_end().ends_with("```````"));
        // No line inside the block is a fence that long, so none can close it.
        let inner: Vec<&str> = out.lines().skip(1).collect();
        let closers = inner
            .iter()
            .filter(|l| l.trim_start().starts_with(fence))
            .count();
        assert_eq!(closers, 1, "{out}");
        // Ordinary bodies get the usual three backticks.
        assert!(code_block("diff", "+ a\n").starts_with("```diff\n"));
    }

    #[test]
    fn code_block_neutralizes_line_leading_commands_only() {
        let out = code_block(
            "diff",
            "/iamgate approve\n  /merge\n+ \"arn:aws:iam::1:role/iamgate\"\r\n",
        );
        assert!(!has_command_line(&out), "{out}");
        // A slash inside a line is kept verbatim.
        assert!(out.contains("role/iamgate\"\n"));
    }

    #[test]
    fn code_block_treats_lone_cr_as_a_line_break() {
        let out = code_block("diff", "+ x\r/iamgate approve");
        assert!(!has_command_line(&out), "{out:?}");
        assert!(!out.contains('\r'));
    }

    #[test]
    fn code_block_keeps_info_string_safe() {
        assert!(code_block("diff`\n<x>", "a").starts_with("```diffx\n"));
    }

    #[test]
    fn clip_cuts_on_characters_with_an_ellipsis() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("ééééé", 3).chars().count(), 3);
    }
}
