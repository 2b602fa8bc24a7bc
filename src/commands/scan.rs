//! Finding the `/iamgate` lines of a comment body: a small line scanner that knows just enough
//! Markdown (CommonMark/GFM) to skip what readers do not see as a command: fenced code
//! (backticks or tildes, any length, indented up to three spaces, also right after a list
//! marker), indented code (four columns or more), block quotes with their lazy continuation
//! lines, and HTML comments. A command is what the rendered comment shows as a line of text.

/// The command prefix; matched ASCII case-insensitively.
const PREFIX: &str = "/iamgate";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Ordinary text: a line here may be a command.
    Text,
    /// Inside a fenced code block opened by `len` times `fence`.
    Fence { fence: char, len: usize },
    /// A block quote's paragraph: non-blank lines continue it (lazily) until a blank line.
    Quote,
    /// Inside `<!-- ... -->`.
    HtmlComment,
}

/// For each command line of `body`, in order, the text after `/iamgate` (not trimmed).
pub(super) fn command_lines(body: &str) -> Vec<&str> {
    let mut block = Block::Text;
    let mut found = Vec::new();
    for line in lines(body) {
        match block {
            Block::Fence { fence, len } => {
                if closes_fence(line, fence, len) {
                    block = Block::Text;
                }
                continue;
            }
            Block::HtmlComment => {
                if line.contains("-->") {
                    block = Block::Text;
                }
                continue;
            }
            Block::Text | Block::Quote => {}
        }
        if line.trim().is_empty() {
            block = Block::Text;
            continue;
        }
        let (columns, text) = indentation(line);
        if columns > 3 {
            // Indented code, or a lazy continuation of a paragraph: never a command line.
            continue;
        }
        if let Some((fence, len)) =
            opens_fence(text).or_else(|| opens_fence(after_list_marker(text)?))
        {
            block = Block::Fence { fence, len };
            continue;
        }
        if text.starts_with('>') {
            block = Block::Quote;
            continue;
        }
        if let Some(rest) = text.strip_prefix("<!--") {
            if !rest.contains("-->") {
                block = Block::HtmlComment;
            }
            continue;
        }
        if block == Block::Quote {
            continue;
        }
        if let Some(rest) = command_rest(text) {
            found.push(rest);
        }
    }
    found
}

/// The text after the prefix when `text` starts with it and then whitespace or the end.
fn command_rest(text: &str) -> Option<&str> {
    let head = text.as_bytes().get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX.as_bytes()) {
        return None;
    }
    // The first PREFIX.len() bytes are ASCII, so this is a character boundary.
    let rest = text.get(PREFIX.len()..)?;
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() => Some(rest),
        Some(_) => None,
    }
}

/// Lines split on `\n`, `\r\n` or a lone `\r` (CommonMark's line endings).
fn lines(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\n', '\r']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// Leading indentation in columns (a tab advances to the next multiple of four) and the rest.
fn indentation(line: &str) -> (usize, &str) {
    let mut columns = 0;
    for (i, c) in line.char_indices() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += 4 - columns % 4,
            _ => return (columns, &line[i..]),
        }
    }
    (columns, "")
}

/// A fence opening (three or more backticks or tildes; a backtick fence's info string holds no
/// backtick, otherwise the line is inline code): its character and length.
fn opens_fence(text: &str) -> Option<(char, usize)> {
    let fence = text.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let len = text.chars().take_while(|c| *c == fence).count();
    if len < 3 {
        return None;
    }
    let info = &text[len..];
    if fence == '`' && info.contains('`') {
        return None;
    }
    Some((fence, len))
}

/// A closing fence: indented at most three columns, at least as long as the opening, nothing after.
fn closes_fence(line: &str, fence: char, len: usize) -> bool {
    let (columns, text) = indentation(line);
    let run = text.chars().take_while(|c| *c == fence).count();
    columns <= 3 && run >= len && text[run..].trim().is_empty()
}

/// The text after a list item marker (`-`, `*`, `+`, `1.`, `1)`) and its spaces, if any.
fn after_list_marker(text: &str) -> Option<&str> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let rest = if digits > 0 {
        if digits > 9 {
            return None;
        }
        text[digits..].strip_prefix(['.', ')'])?
    } else {
        text.strip_prefix(['-', '*', '+'])?
    };
    let content = rest.trim_start_matches([' ', '\t']);
    (content.len() < rest.len()).then_some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rests(body: &str) -> Vec<&str> {
        command_lines(body)
    }

    #[test]
    fn a_command_starts_a_line_after_at_most_three_spaces() {
        assert_eq!(rests("/iamgate approve"), vec![" approve"]);
        assert_eq!(rests("   /iamgate approve"), vec![" approve"]);
        assert_eq!(rests("LGTM\n/iamgate rerun\nthanks"), vec![" rerun"]);
        assert_eq!(rests("/iamgate"), vec![""]);
        assert_eq!(rests("/iamgate\t help"), vec!["\t help"]);
        assert!(rests("please run /iamgate approve").is_empty());
        assert!(rests("- /iamgate approve").is_empty());
    }

    #[test]
    fn the_prefix_needs_whitespace_or_the_end_after_it() {
        assert!(rests("/iamgatex approve").is_empty());
        assert!(rests("/iamgate-approve").is_empty());
        assert!(rests("/iamgat approve").is_empty());
        assert!(rests("/iamgate/approve").is_empty());
        assert_eq!(rests("/iamgate\u{a0}approve"), vec!["\u{a0}approve"]);
        // Non-ASCII right where the prefix ends must not split a character.
        assert!(rests("/iamgatё").is_empty());
        assert!(rests("/iamgé").is_empty());
    }

    #[test]
    fn the_prefix_is_case_insensitive() {
        assert_eq!(rests("/IAMGATE APPROVE"), vec![" APPROVE"]);
        assert_eq!(rests("/IamGate approve"), vec![" approve"]);
    }

    #[test]
    fn fenced_code_is_skipped_whatever_the_fence() {
        let body = "```\n/iamgate approve\n```\n/iamgate rerun";
        assert_eq!(rests(body), vec![" rerun"]);
        let body = "~~~~ text\n/iamgate approve\n~~~\n/iamgate override x\n~~~~~\n/iamgate help";
        assert_eq!(rests(body), vec![" help"]);
        // A shorter or different fence does not close it; nor does text after the fence.
        let body = "````\n```\n/iamgate approve\n~~~~\n```` x\n/iamgate unapprove\n````";
        assert!(rests(body).is_empty());
        // Indented up to three spaces, and closed with indentation too.
        let body = "   ```sh\n/iamgate approve\n  ```\n/iamgate rerun";
        assert_eq!(rests(body), vec![" rerun"]);
        // An unclosed fence runs to the end of the comment.
        assert!(rests("```\n/iamgate approve").is_empty());
        // Inline code on one line is not a fence.
        assert_eq!(rests("```x``` y\n/iamgate rerun"), vec![" rerun"]);
    }

    #[test]
    fn fences_inside_list_items_are_skipped_too() {
        let body = "- step:\n- ```\n  /iamgate approve\n  ```\n/iamgate rerun";
        assert_eq!(rests(body), vec![" rerun"]);
        let body = "1. ```\n   /iamgate approve\n   ```";
        assert!(rests(body).is_empty());
    }

    #[test]
    fn indented_code_is_skipped() {
        assert!(rests("    /iamgate approve").is_empty());
        assert!(rests("\t/iamgate approve").is_empty());
        assert!(rests("  \t/iamgate approve").is_empty());
        // Four spaces of indentation is not a fence either.
        assert_eq!(rests("    ```\n/iamgate rerun"), vec![" rerun"]);
    }

    #[test]
    fn quotes_and_their_lazy_lines_are_skipped() {
        assert!(rests("> /iamgate approve").is_empty());
        assert!(rests("  >/iamgate approve").is_empty());
        assert!(rests("> > /iamgate approve").is_empty());
        // Right under a quote, a line continues the quote (that is how it renders).
        assert!(rests("> you said\n/iamgate approve").is_empty());
        // After a blank line it is a command again.
        assert_eq!(rests("> you said\n\n/iamgate approve"), vec![" approve"]);
        assert_eq!(rests("> you said\n   \n/iamgate approve"), vec![" approve"]);
    }

    #[test]
    fn html_comments_are_skipped() {
        assert!(rests("<!--\n/iamgate approve\n-->").is_empty());
        assert_eq!(rests("<!-- note -->\n/iamgate approve"), vec![" approve"]);
        assert_eq!(rests("<!-- a\nb -->\n/iamgate rerun"), vec![" rerun"]);
    }

    #[test]
    fn every_line_ending_counts() {
        assert_eq!(
            rests("x\r\n/iamgate rerun\r/iamgate help\n/iamgate approve"),
            vec![" rerun", " help", " approve"]
        );
        // \r\n is one line break: a command right under a quote stays inside it.
        assert!(rests("> q\r\n/iamgate approve").is_empty());
        assert!(rests("```\r\n/iamgate approve\r\n```").is_empty());
    }

    #[test]
    fn escaped_text_from_the_report_is_never_a_command() {
        use crate::engine::report::escape;
        assert!(rests(&escape::text("/iamgate approve")).is_empty());
        assert!(rests(&escape::code_block("diff", "/iamgate approve\n")).is_empty());
        assert!(rests(&escape::html("/iamgate approve")).is_empty());
    }
}
