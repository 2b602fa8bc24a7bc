//! Glob matching for action names: IAM's `*` (any run, also empty) and `?` (one character),
//! ASCII case-insensitive; every other character is literal (no `[...]` classes). Pure functions
//! on bytes; knows nothing about the database.

/// True if `pattern` contains a `*` or `?`.
pub(super) fn has_wildcard(pattern: &str) -> bool {
    pattern.bytes().any(|b| b == b'*' || b == b'?')
}

/// True if the whole of `text` matches `pattern`, ignoring ASCII case.
///
/// Linear-time greedy matcher with backtracking to the last `*` (enough for `*`/`?` globs).
pub(super) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Position after the last `*` seen, and the text position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((after, absorbed)) => {
                    p = after;
                    t = absorbed + 1;
                    star = Some((after, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        matches(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "GetObject"));
        assert!(m("get*", "GetObject"));
        assert!(m("*object", "GetObject"));
        assert!(m("g*t*t", "GetObject"));
        assert!(m("Get?bject", "GetObject"));
        assert!(!m("Get?bject", "Getbject"));
        assert!(!m("Get?bject", "GetOObject"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxcxxbxxaxx"));
        assert!(!m("get", "GetObject"));
        assert!(!m("Object", "GetObject"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
    }

    #[test]
    fn brackets_are_literal() {
        assert!(!m("[G]etObject", "GetObject"));
        assert!(m("[G]etObject", "[g]etobject"));
    }

    #[test]
    fn detects_wildcards() {
        assert!(has_wildcard("s3:Get*"));
        assert!(has_wildcard("s3:Get?bject"));
        assert!(!has_wildcard("s3:[G]etObject"));
    }
}
