//! The tail of a preview's stderr, and masking of configured secrets: each value as is, JSON-
//! escaped, URL-encoded and base64-encoded (at every alignment inside a longer encoding). Owns
//! nothing else: stdout is masked by the runner, as JSON (`Runner::mask_output`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Values shorter than this are not masked (they would blank ordinary words).
const MIN_SECRET_CHARS: usize = 4;

/// What replaces a secret.
const MASK: &[u8] = b"***";

/// The `[pulumi.env]` values to hide, longest first (so a value containing another is hidden
/// whole).
#[derive(Clone, Default)]
pub(super) struct Secrets {
    values: Vec<Vec<u8>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

impl Secrets {
    pub(super) fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<Vec<u8>> = values
            .into_iter()
            .filter(|value| value.chars().count() >= MIN_SECRET_CHARS)
            .flat_map(forms)
            .filter(|form| form.len() >= MIN_SECRET_CHARS)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Self { values }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The longest secret, in bytes (how much of a cut-off secret can sit at a buffer's start).
    pub(super) fn longest(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    pub(super) fn mask(&self, text: &[u8]) -> Vec<u8> {
        let mut out = text.to_vec();
        for secret in &self.values {
            out = replace_all(&out, secret);
        }
        out
    }
}

/// The spellings of `value` that output can carry it in: as is; JSON-escaped (Go's too, which
/// also escapes `<`, `>` and `&`); percent-encoded (every byte but the unreserved ones, and the
/// form encoding with `+` for spaces); and base64 (standard and URL-safe) at each of the three
/// alignments it can have inside a longer encoding, cut to the characters that depend on the
/// value alone.
fn forms(value: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![value.as_bytes().to_vec()];
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.trim_matches('"');
    forms.push(json.as_bytes().to_vec());
    let go = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    forms.push(go.into_bytes());
    let percent: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    forms.push(percent.replace("%20", "+").into_bytes());
    forms.push(percent.into_bytes());
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3_usize {
            let mut bytes = vec![0_u8; offset];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&bytes);
            // Characters mixing the value with what precedes or follows it are not stable.
            let start = (offset * 8).div_ceil(6);
            let end = bytes.len() * 8 / 6;
            if let Some(core) = encoded.get(start..end) {
                forms.push(core.as_bytes().to_vec());
            }
        }
    }
    forms
}

fn replace_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while at < haystack.len() {
        if haystack[at..].starts_with(needle) {
            out.extend_from_slice(MASK);
            at += needle.len();
        } else {
            out.push(haystack[at]);
            at += 1;
        }
    }
    out
}

/// Keeps the last `keep` bytes of a stream (plus room to see a secret that straddles the cut).
#[derive(Debug)]
pub(super) struct Tail {
    buf: Vec<u8>,
    keep: usize,
    slack: usize,
    dropped: bool,
}

impl Tail {
    pub(super) fn new(keep: usize, slack: usize) -> Self {
        Self {
            buf: Vec::new(),
            keep,
            slack,
            dropped: false,
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let window = self.keep + self.slack;
        // Trim only when twice the window, so trimming costs amortized O(1) per byte.
        if self.buf.len() > 2 * window {
            self.trim_to(window);
        }
    }

    /// The kept text with secrets masked, lossy UTF-8, marked when its start was cut.
    pub(super) fn finish(mut self, secrets: &Secrets) -> String {
        self.trim_to(self.keep + self.slack);
        let visible = if self.dropped {
            // The first `slack` bytes may hold the end of a secret whose start was cut off,
            // which masking cannot recognise: drop them.
            &self.buf[self.slack.min(self.buf.len())..]
        } else {
            &self.buf[..]
        };
        let masked = secrets.mask(visible);
        let mut dropped = self.dropped;
        let kept = if masked.len() > self.keep {
            dropped = true;
            &masked[masked.len() - self.keep..]
        } else {
            &masked[..]
        };
        let text = String::from_utf8_lossy(kept);
        if dropped {
            format!("[earlier stderr omitted]\n{text}")
        } else {
            text.into_owned()
        }
    }

    fn trim_to(&mut self, window: usize) {
        if self.buf.len() > window {
            let cut = self.buf.len() - window;
            self.buf.drain(..cut);
            self.dropped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_every_long_enough_value_is_masked() {
        let secrets = Secrets::new(["hunter2!", "abc", "", "tok-123456"]);
        let masked = secrets.mask(b"pw=hunter2! token tok-123456 again hunter2! abc");
        assert_eq!(
            String::from_utf8(masked).unwrap(),
            "pw=*** token *** again *** abc"
        );
    }

    #[test]
    fn a_value_containing_another_is_masked_whole() {
        let secrets = Secrets::new(["pass", "password-long"]);
        let masked = secrets.mask(b"x password-long y pass");
        assert_eq!(String::from_utf8(masked).unwrap(), "x *** y ***");
    }

    #[test]
    fn short_text_is_kept_whole_and_unmarked() {
        let mut tail = Tail::new(100, 8);
        tail.push(b"error: stack not found\n");
        assert_eq!(tail.finish(&Secrets::default()), "error: stack not found\n");
    }

    #[test]
    fn long_text_keeps_only_its_end_and_says_so() {
        let mut tail = Tail::new(10, 0);
        for _ in 0..1000 {
            tail.push(b"0123456789");
        }
        tail.push(b"THE END!!!");
        assert_eq!(
            tail.finish(&Secrets::default()),
            "[earlier stderr omitted]\nTHE END!!!"
        );
    }

    #[test]
    fn a_secret_cut_by_the_window_leaves_no_fragment() {
        let secrets = Secrets::new(["SECRETVALUE"]);
        // Push the secret so that the window starts in its middle.
        let mut tail = Tail::new(20, secrets.longest());
        tail.push(&[b'x'; 100]);
        tail.push(b"SECRETVALUE");
        tail.push(b"0123456789abcdefghijklmno");
        let text = tail.finish(&secrets);
        for fragment in ["ALUE", "LUE", "SECRET"] {
            assert!(!text.contains(fragment), "{text:?} leaks {fragment}");
        }
        assert_eq!(text, "[earlier stderr omitted]\n56789abcdefghijklmno");
    }

    #[test]
    fn a_secret_wholly_inside_the_window_is_masked_not_dropped() {
        let secrets = Secrets::new(["SECRETVALUE"]);
        let mut tail = Tail::new(64, secrets.longest());
        tail.push(&[b'x'; 500]);
        tail.push(b" key=SECRETVALUE done");
        let text = tail.finish(&secrets);
        assert!(text.ends_with(" key=*** done"), "{text:?}");
    }

    #[test]
    fn encoded_forms_of_a_value_are_masked_too() {
        let value = "s3cr3t/Key+with spaces&<x>";
        let secrets = Secrets::new([value]);
        let json = serde_json::to_string(value).unwrap();
        let go_json = json
            .replace('&', "\\u0026")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e");
        let url = "s3cr3t%2FKey%2Bwith%20spaces%26%3Cx%3E";
        let form = "s3cr3t%2FKey%2Bwith+spaces%26%3Cx%3E";
        for shown in [json.as_str(), go_json.as_str(), url, form] {
            let masked = String::from_utf8(secrets.mask(shown.as_bytes())).unwrap();
            assert!(!masked.contains("s3cr3t"), "{shown} -> {masked}");
        }
        // base64 of the value inside a longer encoded text, at each alignment.
        for prefix in ["", "a", "ab", "abc"] {
            for engine in [&base64::engine::general_purpose::STANDARD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(format!("{prefix}{value}!tail"));
                let masked = secrets.mask(encoded.as_bytes());
                assert!(
                    masked.windows(3).any(|w| w == b"***"),
                    "{prefix:?}: {encoded} was not masked"
                );
                for form in forms(value) {
                    assert!(
                        !masked.windows(form.len()).any(|w| w == form.as_slice()),
                        "{prefix:?}: a form of the value is left in {}",
                        String::from_utf8_lossy(&masked)
                    );
                }
            }
        }
    }

    #[test]
    fn debug_output_does_not_show_values() {
        let secrets = Secrets::new(["very-secret-value"]);
        assert!(!format!("{secrets:?}").contains("very-secret"));
    }
}
