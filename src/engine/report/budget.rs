//! Fitting the comment into the forge's size limit. A rendered comment is a list of pieces, some
//! of which may be left out, in a fixed order: policy diffs first (least risky resource first),
//! then rows of the resource table, then the pre-existing and removed findings, and new findings
//! (least severe first) only as a last resort. A note says exactly what was left out. Sizes are
//! counted in characters (Unicode scalar values). This module knows nothing about IAM.

/// GitHub's limit on the body of an issue or pull request comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// What a droppable piece is, in the order pieces are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Cut {
    Diff,
    Row,
    Preexisting,
    Improvement,
    Finding,
}

impl Cut {
    const ALL: [Cut; 5] = [
        Cut::Diff,
        Cut::Row,
        Cut::Preexisting,
        Cut::Improvement,
        Cut::Finding,
    ];

    fn noun(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (Cut::Diff, true) => "policy diff",
            (Cut::Diff, false) => "policy diffs",
            (Cut::Row, true) => "row of the resource table",
            (Cut::Row, false) => "rows of the resource table",
            (Cut::Preexisting, true) => "pre-existing finding",
            (Cut::Preexisting, false) => "pre-existing findings",
            (Cut::Improvement, true) => "removed finding",
            (Cut::Improvement, false) => "removed findings",
            (Cut::Finding, true) => "new finding",
            (Cut::Finding, false) => "new findings",
        }
    }
}

#[derive(Debug)]
struct Piece {
    text: String,
    chars: usize,
    /// (kind, rank, how many items it holds): lower ranks are dropped first within a kind.
    cut: Option<(Cut, u64, usize)>,
}

/// A comment being assembled: pieces in display order and the place of the omission note.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    pieces: Vec<Piece>,
    note_at: usize,
}

impl Doc {
    /// Appends text that is always kept.
    pub(crate) fn push(&mut self, text: String) {
        let chars = text.chars().count();
        self.pieces.push(Piece {
            text,
            chars,
            cut: None,
        });
    }

    /// Appends text that may be left out: `rank` orders pieces of one kind (lowest dropped
    /// first), `items` is how many diffs, rows or findings the piece holds.
    pub(crate) fn push_cuttable(&mut self, text: String, cut: Cut, rank: u64, items: usize) {
        let chars = text.chars().count();
        self.pieces.push(Piece {
            text,
            chars,
            cut: Some((cut, rank, items)),
        });
    }

    /// Marks the current end as the place for the omission note, if one is needed.
    pub(crate) fn note_here(&mut self) {
        self.note_at = self.pieces.len();
    }

    /// The whole text, with at most `budget` characters.
    pub(crate) fn fit(self, budget: usize) -> String {
        let mut total: usize = self.pieces.iter().map(|p| p.chars).sum();
        if total <= budget {
            return self.assemble(&[], String::new());
        }
        let mut order: Vec<usize> = (0..self.pieces.len())
            .filter(|&i| self.pieces[i].cut.is_some())
            .collect();
        order.sort_by_key(|&i| self.pieces[i].cut.map(|(kind, rank, _)| (kind, rank)));
        let mut dropped = vec![false; self.pieces.len()];
        let mut counts = [0usize; Cut::ALL.len()];
        let mut note = note_text(&counts, false, budget);
        for i in order {
            if total + note.chars().count() <= budget {
                break;
            }
            if let Some((kind, _, items)) = self.pieces[i].cut {
                dropped[i] = true;
                total -= self.pieces[i].chars;
                counts[kind as usize] += items;
                note = note_text(&counts, false, budget);
            }
        }
        if total + note.chars().count() <= budget {
            return self.assemble(&dropped, note);
        }
        // Even the summary and findings are too long: keep the head and the note, cut the end.
        let note = note_text(&counts, true, budget);
        let (head, tail) = self.halves(&dropped);
        hard_cut(&head, &note, &tail, budget)
    }

    /// The kept text before and after the note's place.
    fn halves(&self, dropped: &[bool]) -> (String, String) {
        let (mut head, mut tail) = (String::new(), String::new());
        for (i, p) in self.pieces.iter().enumerate() {
            if !dropped.get(i).copied().unwrap_or(false) {
                if i < self.note_at {
                    &mut head
                } else {
                    &mut tail
                }
                .push_str(&p.text);
            }
        }
        (head, tail)
    }

    fn assemble(&self, dropped: &[bool], note: String) -> String {
        let mut out = String::new();
        for (i, p) in self.pieces.iter().enumerate() {
            if i == self.note_at {
                out.push_str(&note);
            }
            if !dropped.get(i).copied().unwrap_or(false) {
                out.push_str(&p.text);
            }
        }
        if self.note_at >= self.pieces.len() {
            out.push_str(&note);
        }
        out
    }
}

/// The note that says what was left out; empty when nothing was.
fn note_text(counts: &[usize; 5], truncated: bool, budget: usize) -> String {
    let mut parts: Vec<String> = Cut::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| format!("{n} {}", kind.noun(*n)))
        .collect();
    if truncated {
        parts.push("the end of the comment".to_owned());
    }
    if parts.is_empty() {
        return String::new();
    }
    let what = match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let single = parts.len() == 1 && (truncated || counts.iter().sum::<usize>() == 1);
    let verb = if single { "was" } else { "were" };
    format!(
        "> **Note:** {what} {verb} left out to fit the comment size limit ({} characters); run \
         `iamgate analyze --format json` for the full report.\n\n",
        thousands(budget)
    )
}

/// `head`, `note`, and as much of `tail` as fits, cut at a line boundary; at most `budget`
/// characters whatever the inputs.
fn hard_cut(head: &str, note: &str, tail: &str, budget: usize) -> String {
    const END: &str = "\n\n*… comment cut here.*\n";
    let fixed = head.chars().count() + note.chars().count() + END.chars().count();
    if fixed > budget {
        return format!("{head}{note}").chars().take(budget).collect();
    }
    let kept: String = tail.chars().take(budget - fixed).collect();
    let kept = match kept.rfind('\n') {
        Some(pos) => &kept[..pos],
        None => "",
    };
    format!("{head}{note}{kept}{END}")
}

/// `65536` -> `65,536`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Doc {
        let mut d = Doc::default();
        d.push("TITLE\n".to_owned());
        d.note_here();
        d.push("SUMMARY\n".to_owned());
        d.push_cuttable("FINDING-low\n".to_owned(), Cut::Finding, 1, 1);
        d.push_cuttable("FINDING-high\n".to_owned(), Cut::Finding, 3, 1);
        d.push_cuttable(format!("DIFF-high{}\n", "x".repeat(400)), Cut::Diff, 80, 1);
        d.push_cuttable(format!("DIFF-low{}\n", "y".repeat(400)), Cut::Diff, 10, 1);
        d.push("FOOTER\n".to_owned());
        d
    }

    #[test]
    fn nothing_is_cut_when_it_fits() {
        let out = doc().fit(10_000);
        assert!(out.contains("DIFF-low") && out.contains("DIFF-high"));
        assert!(!out.contains("Note"));
    }

    #[test]
    fn least_risky_diff_goes_first_and_the_note_says_so() {
        let budget = doc().fit(usize::MAX).chars().count() - 100;
        let out = doc().fit(budget);
        assert!(out.chars().count() <= budget);
        assert!(!out.contains("DIFF-low"), "{out}");
        assert!(out.contains("DIFF-high"));
        assert!(out.contains("1 policy diff was left out"), "{out}");
        // The note sits where it was placed: after the title, before the summary.
        let note = out.find("Note").unwrap_or(usize::MAX);
        assert!(
            out.find("TITLE").unwrap_or(usize::MAX) < note
                && note < out.find("SUMMARY").unwrap_or(0)
        );
    }

    #[test]
    fn findings_are_cut_only_after_every_diff() {
        let full = doc().fit(usize::MAX).chars().count();
        let no_diffs = doc().fit(full - 500);
        assert!(!no_diffs.contains("DIFF"), "{no_diffs}");
        assert!(no_diffs.contains("FINDING-low") && no_diffs.contains("FINDING-high"));
        assert!(
            no_diffs.contains("2 policy diffs were left out"),
            "{no_diffs}"
        );

        let budget = no_diffs.chars().count() - 1;
        let out = doc().fit(budget);
        assert!(out.chars().count() <= budget);
        assert!(!out.contains("FINDING-low"), "{out}");
        assert!(out.contains("TITLE") && out.contains("SUMMARY") && out.contains("FOOTER"));
        assert!(
            out.contains("2 policy diffs and 1 new finding")
                || out.contains("2 policy diffs and 2 new findings"),
            "{out}"
        );
    }

    #[test]
    fn a_tiny_budget_is_still_respected() {
        for budget in [0, 5, 40, 200] {
            let out = doc().fit(budget);
            assert!(out.chars().count() <= budget, "budget {budget}: {out}");
        }
    }

    #[test]
    fn when_kept_text_alone_is_too_long_the_end_is_cut_and_the_note_kept() {
        let mut d = doc();
        d.push("LONG LINE\n".repeat(100));
        let cut = d.fit(600);
        assert!(cut.chars().count() <= 600);
        assert!(cut.starts_with("TITLE\n> **Note:**"), "{cut}");
        assert!(
            cut.contains("2 policy diffs, 2 new findings and the end of the comment were left out"),
            "{cut}"
        );
        assert!(cut.contains("SUMMARY\nFOOTER\nLONG LINE\n"));
        assert!(
            cut.ends_with("LONG LINE\n\n*… comment cut here.*\n"),
            "{cut}"
        );
    }

    #[test]
    fn budget_counts_characters_not_bytes() {
        let mut d = Doc::default();
        d.push("é".repeat(100));
        assert_eq!(d.fit(100).chars().count(), 100);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(65_536), "65,536");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
