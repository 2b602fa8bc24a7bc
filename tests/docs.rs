//! Docs generated from code must not drift: `docs/rules.md` is the rule catalog, and
//! `docs/commands.md` shows the help generated from the command table.

#[test]
fn rules_md_matches_the_catalog() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md");
    let generated = iamgate::engine::risk::catalog::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/rules.md is stale: run `UPDATE_DOCS=1 cargo test --test docs` and commit the result"
    );
}

/// Between these markers, `docs/commands.md` holds the generated help text.
const HELP_BEGIN: &str = "<!-- BEGIN generated help";
const HELP_END: &str = "<!-- END generated help -->";

#[test]
fn commands_md_shows_the_generated_help() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let begin = on_disk.find(HELP_BEGIN).and_then(|at| {
        on_disk[at..]
            .find("-->\n")
            .map(|end| at + end + "-->\n".len())
    });
    let end = on_disk.find(HELP_END);
    let (Some(begin), Some(end)) = (begin, end) else {
        panic!("docs/commands.md lacks the `{HELP_BEGIN} ... -->` and `{HELP_END}` markers");
    };
    assert!(begin <= end, "docs/commands.md: help markers out of order");
    let generated = iamgate::commands::help_text();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{generated}{}", &on_disk[..begin], &on_disk[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert!(
        on_disk[begin..end] == generated,
        "docs/commands.md's help is stale: run `UPDATE_DOCS=1 cargo test --test docs` and commit the result"
    );
}
