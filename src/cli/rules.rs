//! `iamgate rules`: the rule catalog as a text table or JSON.

use serde::Serialize;

use super::{Outcome, write_stdout};
use crate::engine::risk::{Category, Severity, catalog};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct Entry {
    id: &'static str,
    category: Category,
    severity: Severity,
    description: &'static str,
}

pub fn run(args: &Args) -> Outcome {
    let text = match args.format {
        RulesFormat::Text => text(),
        RulesFormat::Json => {
            let entries: Vec<Entry> = catalog::all()
                .iter()
                .map(|r| Entry {
                    id: r.id,
                    category: r.category,
                    severity: r.severity,
                    description: r.title,
                })
                .collect();
            match serde_json::to_string_pretty(&entries) {
                Ok(mut s) => {
                    s.push('\n');
                    s
                }
                Err(e) => return Outcome::Failed(e.into()),
            }
        }
    };
    match write_stdout(&text) {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

/// An aligned table: id, category, severity, description.
pub fn text() -> String {
    let rules = catalog::all();
    let id_w = rules.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    let cat_w = rules
        .iter()
        .map(|r| r.category.as_str().len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:id_w$}  {:cat_w$}  {:8}  DESCRIPTION\n",
        "ID", "CATEGORY", "SEVERITY"
    );
    for r in rules {
        out.push_str(&format!(
            "{:id_w$}  {:cat_w$}  {:8}  {}\n",
            r.id,
            r.category.as_str(),
            r.severity.as_str(),
            r.title
        ));
    }
    out
}
