//! `/iamgate explain <rule-id>`: a rule's catalog entry as a Markdown reply. The texts are the
//! catalog's own (the same as `docs/rules.md`); only the id the user typed is user text.

use super::CommandError;
use crate::engine::report::{INFORMATION_URI, escape};
use crate::engine::risk::{Rule, catalog};

/// At most this many near matches are suggested for an unknown id.
const MAX_NEAR: usize = 5;

/// The reply to `/iamgate explain <rule_id>` (case-insensitive id): title, category, default
/// severity, rationale, example and remediation. An unknown id is a [`CommandError::UnknownRule`]
/// naming the closest ids.
pub fn explain_text(rule_id: &str) -> Result<String, CommandError> {
    let r = resolve_rule(rule_id)?;
    Ok(format!(
        "**{id}: {title}**\n\n\
         Category `{category}`, default severity `{severity}` (a repository can change it with \
         `risk.severity` in `.iamgate.yml`).\n\n\
         **Why it matters.** {rationale}\n\n\
         **Example.**\n\n{example}\n\
         **How to fix.** {remediation}\n\n\
         [All rules]({INFORMATION_URI}/blob/main/docs/rules.md#{anchor})\n",
        id = r.id,
        title = r.title,
        category = r.category,
        severity = r.severity,
        rationale = r.rationale,
        example = escape::code_block("json", r.example.trim()),
        remediation = r.remediation,
        anchor = r.id.to_ascii_lowercase(),
    ))
}

/// The catalog rule with this id, compared ASCII case-insensitively; backticks or quotes around
/// the id are allowed (people paste ids from the report).
pub(super) fn resolve_rule(rule_id: &str) -> Result<&'static Rule, CommandError> {
    let id = rule_id.trim().trim_matches(['`', '"', '\'']);
    catalog::all()
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| CommandError::UnknownRule {
            id: rule_id.trim().to_owned(),
            near: near_ids(id),
        })
}

/// Ids within two edits of `id`, or containing it (three characters or more), closest first.
fn near_ids(id: &str) -> Vec<&'static str> {
    let id = id.to_ascii_uppercase();
    let mut near: Vec<(usize, usize, &'static str)> = catalog::all()
        .iter()
        .enumerate()
        .filter_map(|(order, r)| {
            let distance = strsim::osa_distance(&id, r.id);
            let contains = id.chars().count() >= 3 && r.id.contains(&id);
            (distance <= 2 || contains).then_some((distance, order, r.id))
        })
        .collect();
    near.sort_unstable();
    near.into_iter()
        .take(MAX_NEAR)
        .map(|(_, _, id)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_rule_in_any_case_shows_its_catalog_entry() {
        let rule = catalog::rule("AWS-PE-009").expect("in the catalog");
        for id in ["AWS-PE-009", "aws-pe-009", "`Aws-Pe-009`"] {
            let text = explain_text(id).expect(id);
            assert!(
                text.starts_with(&format!("**AWS-PE-009: {}**", rule.title)),
                "{text}"
            );
            for part in [rule.rationale, rule.remediation, rule.example.trim()] {
                assert!(text.contains(part), "{id}: missing {part}");
            }
            assert!(text.contains(&format!("Category `{}`", rule.category)));
            assert!(text.contains(&format!("default severity `{}`", rule.severity)));
            assert!(text.contains("```json\n"));
            assert!(text.contains("docs/rules.md#aws-pe-009"));
        }
    }

    #[test]
    fn every_rule_can_be_explained() {
        for r in catalog::all() {
            assert!(explain_text(r.id).is_ok(), "{}", r.id);
        }
    }

    #[test]
    fn an_unknown_rule_names_near_matches() {
        let err = explain_text("AWS-PE-9").expect_err("unknown");
        let CommandError::UnknownRule { near, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(near.contains(&"AWS-PE-009"), "{near:?}");
        assert!(near.len() <= MAX_NEAR);
        let message = err.to_string();
        assert!(
            message.starts_with("There is no rule `AWS-PE-9`."),
            "{message}"
        );
        assert!(message.contains("`AWS-PE-009`"), "{message}");
        assert!(message.contains("`iamgate rules`"));

        // A transposition is one edit; the closest comes first.
        let Err(CommandError::UnknownRule { near, .. }) = explain_text("AWS-EP-009") else {
            panic!("unknown");
        };
        assert_eq!(near.first(), Some(&"AWS-PE-009"));

        // Nothing close: no suggestion, still how to find the ids.
        let message = explain_text("nothing-like-it")
            .expect_err("unknown")
            .to_string();
        assert!(!message.contains("Did you mean"), "{message}");
        assert!(message.contains("`AWS-PE-009`"), "{message}");
    }

    #[test]
    fn the_echoed_id_is_escaped() {
        let message = explain_text("@security-team<!--")
            .expect_err("unknown")
            .to_string();
        assert!(!message.contains("@s"), "{message}");
        assert!(!message.contains("<!--"), "{message}");
        let message = explain_text("a`b").expect_err("unknown").to_string();
        assert!(message.contains("``a`b``"), "{message}");
    }
}
