//! One stack's part of the comment: its level and score, the changed IAM resources, the findings
//! (new first, most severe first; pre-existing collapsed; removed risk), and each resource's
//! policy diff in a collapsed block. Pieces that may be left out are marked for the budget.

use super::{Section, level_badge, risk_phrase, severity_badge};
use crate::engine::StackOutcome;
use crate::engine::report::budget::{Cut, Doc};
use crate::engine::report::escape::{self, cell_code_span, clip, code_span};
use crate::engine::report::{Lookup, resource_name};
use crate::engine::{Analysis, Reported, ResourceChange};

/// Longest preview text shown, in characters, per field (the JSON report has it whole).
const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 1_000;
const MAX_REASON: usize = 4_000;
const MAX_ERRORS: usize = 20;

pub(super) fn push(
    doc: &mut Doc,
    section: &Section<'_>,
    index: usize,
    single: bool,
    lookup: Lookup,
) {
    let heading = match (&section.name, single) {
        (Some(name), _) => Some(format!("Stack {}", code_span(&clip(name, MAX_NAME)))),
        (None, true) => None,
        (None, false) => Some(format!("Preview {}", index + 1)),
    };
    match section.outcome {
        StackOutcome::Failed { ref reason } => {
            let heading = heading.unwrap_or_else(|| "Analysis".to_owned());
            let mut out = format!("### {heading}: ❌ analysis failed\n\n");
            for line in clip(reason, MAX_REASON).lines() {
                out.push_str(&format!("> {}\n", escape::text(line)));
            }
            out.push('\n');
            doc.push(out);
        }
        StackOutcome::NotRun { ref reason, .. } => {
            let heading = heading.unwrap_or_else(|| "Analysis".to_owned());
            let mut out = format!("### {heading}: ⏸️ not previewed\n\n");
            for line in clip(reason, MAX_REASON).lines() {
                out.push_str(&format!("> {}\n", escape::text(line)));
            }
            out.push('\n');
            doc.push(out);
        }
        StackOutcome::Analyzed(analysis) => {
            if let Some(heading) = heading {
                let level = analysis.risk.level;
                doc.push(format!(
                    "### {heading}: {} {}\n\n",
                    level_badge(level),
                    risk_phrase(analysis.risk)
                ));
            }
            push_analysis(doc, analysis, index, lookup);
        }
    }
}

fn push_analysis(doc: &mut Doc, a: &Analysis, section: usize, lookup: Lookup) {
    doc.push(summary(a));
    // Most risky resource first; equal risks keep the analysis order.
    let mut resources: Vec<(usize, &ResourceChange)> = a.resources.iter().enumerate().collect();
    resources.sort_by_key(|(i, r)| (std::cmp::Reverse(r.risk.score), *i));
    if !resources.is_empty() {
        doc.push("| Resource | Type | Op | Risk |\n| --- | --- | --- | --- |\n".to_owned());
        for (i, r) in &resources {
            let row = format!(
                "| {} | {} | {} | {} {} ({}) |\n",
                cell_code_span(&clip(resource_name(&r.urn), MAX_NAME)),
                cell_code_span(&clip(&r.type_, MAX_NAME)),
                escape::text(&clip(r.op.as_str(), MAX_NAME)),
                level_badge(r.risk.level),
                r.risk.level,
                r.risk.score
            );
            doc.push_cuttable(row, Cut::Row, rank(r.risk.score.into(), section, *i), 1);
        }
        doc.push("\n".to_owned());
    }

    let mut new: Vec<&Reported> = a.findings.iter().filter(|r| r.new).collect();
    let mut old: Vec<&Reported> = a.findings.iter().filter(|r| !r.new).collect();
    let mut removed: Vec<&Reported> = a.improvements.iter().collect();
    for list in [&mut new, &mut old, &mut removed] {
        list.sort_by(|x, y| {
            y.finding
                .severity
                .cmp(&x.finding.severity)
                .then_with(|| x.finding.rule_id.cmp(y.finding.rule_id))
                .then_with(|| x.finding.resource.cmp(&y.finding.resource))
        });
    }
    if !new.is_empty() {
        doc.push(format!("**New findings ({})**\n\n", new.len()));
        for (i, r) in new.iter().enumerate() {
            let sev = r.finding.severity as u64;
            doc.push_cuttable(
                finding_line(r, lookup),
                Cut::Finding,
                rank(sev, section, i),
                1,
            );
        }
        doc.push("\n".to_owned());
    }
    if !old.is_empty() {
        let mut out = format!(
            "<details><summary>{} pre-existing finding{} (not introduced by this change)</summary>\n\n",
            old.len(),
            plural(old.len())
        );
        for r in &old {
            out.push_str(&finding_line(r, lookup));
        }
        out.push_str("\n</details>\n\n");
        doc.push_cuttable(out, Cut::Preexisting, rank(0, section, 0), old.len());
    }
    if !removed.is_empty() {
        let mut out = format!("**Risk removed by this change ({})**\n\n", removed.len());
        for r in &removed {
            out.push_str(&removed_line(r, lookup));
        }
        out.push('\n');
        doc.push_cuttable(out, Cut::Improvement, rank(0, section, 0), removed.len());
    }
    for (i, r) in &resources {
        if r.diff.trim().is_empty() {
            continue;
        }
        let out = format!(
            "<details><summary>Policy diff: <code>{}</code> ({}, {})</summary>\n\n{}\n</details>\n\n",
            escape::html(&clip(resource_name(&r.urn), MAX_NAME)),
            escape::html(&clip(r.op.as_str(), MAX_NAME)),
            match r.risk.level {
                crate::engine::Level::None => "no new risk".to_owned(),
                level => format!("{level} risk"),
            },
            escape::code_block("diff", &r.diff)
        );
        doc.push_cuttable(out, Cut::Diff, rank(r.risk.score.into(), section, *i), 1);
    }
}

fn summary(a: &Analysis) -> String {
    let mut out = String::new();
    if a.resources.is_empty() && a.findings.is_empty() && a.improvements.is_empty() {
        out.push_str("This preview changes no IAM.\n\n");
    } else {
        let new = a.findings.iter().filter(|r| r.new).count();
        let old = a.findings.len() - new;
        let mut parts = vec![
            format!(
                "{} IAM resource{} changed",
                a.resources.len(),
                plural(a.resources.len())
            ),
            format!("{new} new finding{}", plural(new)),
        ];
        if old > 0 {
            parts.push(format!("{old} pre-existing"));
        }
        if !a.improvements.is_empty() {
            parts.push(format!("{} removed", a.improvements.len()));
        }
        out.push_str(&parts.join(" · "));
        out.push_str("\n\n");
    }
    if !a.errors.is_empty() {
        out.push_str("**⚠️ The preview reported errors; the analysis may be incomplete:**\n\n");
        for e in a.errors.iter().take(MAX_ERRORS) {
            out.push_str(&format!("- {}\n", escape::text(&clip(e, MAX_MESSAGE))));
        }
        if a.errors.len() > MAX_ERRORS {
            out.push_str(&format!("- … and {} more\n", a.errors.len() - MAX_ERRORS));
        }
        out.push('\n');
    }
    out
}

/// `- 🔴 **critical** · new · `AWS-X` Title on `name`: message`
fn finding_line(r: &Reported, lookup: Lookup) -> String {
    let f = &r.finding;
    let status = match (r.new, r.before) {
        (true, Some(before)) if before != f.severity => format!(" · **raised** from {before}"),
        (true, _) => " · **new**".to_owned(),
        (false, _) => String::new(),
    };
    let title = lookup(f.rule_id)
        .map(|rule| format!(" {}", escape::text(rule.title)))
        .unwrap_or_default();
    format!(
        "- {} **{}**{status} · {}{title} on {}: {}\n",
        severity_badge(f.severity),
        f.severity,
        code_span(f.rule_id),
        code_span(&clip(resource_name(&f.resource), MAX_NAME)),
        escape::text(&clip(&f.message, MAX_MESSAGE))
    )
}

/// `- ✅ was **medium** · `AWS-X` Title on `name`: message`
fn removed_line(r: &Reported, lookup: Lookup) -> String {
    let f = &r.finding;
    let title = lookup(f.rule_id)
        .map(|rule| format!(" {}", escape::text(rule.title)))
        .unwrap_or_default();
    format!(
        "- ✅ was **{}** · {}{title} on {}: {}\n",
        f.severity,
        code_span(f.rule_id),
        code_span(&clip(resource_name(&f.resource), MAX_NAME)),
        escape::text(&clip(&f.message, MAX_MESSAGE))
    )
}

/// Drop order within one kind: lower `weight` first, then later sections and items first.
fn rank(weight: u64, section: usize, item: usize) -> u64 {
    let section = u64::try_from(section).unwrap_or(u64::MAX) & 0xFFFF;
    let item = u64::try_from(item).unwrap_or(u64::MAX) & 0xFF_FFFF;
    (weight << 40) | ((0xFFFF - section) << 24) | (0xFF_FFFF - item)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
