//! Lines of YAML nodes by key path (`stacks[1].paths[0]`), so that a problem found while
//! validating the parsed value can name its line too. serde gives positions only for syntax
//! errors; this walks the parser's events (saphyr-parser) once and remembers where each key or
//! sequence item starts.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// Where each node of the first document starts: a mapping entry at its key's line, a sequence
/// item at the item's line. Paths are joined like the validators join them: `a.b`, `a[0].b`.
/// An unparseable document gives what was read before the error (callers fall back).
pub fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut started = false;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break };
        let line = span.start.line();
        match event {
            Event::DocumentStart(_) if started => break,
            Event::DocumentStart(_) => started = true,
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { path, key }) = stack.last_mut()
                    && key.is_none()
                {
                    let full = join(path, &value);
                    lines.entry(full.clone()).or_insert(line);
                    *key = Some(full);
                    continue;
                }
                node_path(&mut stack, &mut lines, line);
            }
            Event::Alias(_) => {
                node_path(&mut stack, &mut lines, line);
            }
            Event::MappingStart(..) => {
                let path = node_path(&mut stack, &mut lines, line);
                stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = node_path(&mut stack, &mut lines, line);
                stack.push(Frame::Seq { path, next: 0 });
            }
            Event::Nothing | Event::StreamStart => {}
        }
    }
    lines
}

/// The line of `path`, else of its nearest ancestor that has one (a missing key is reported at
/// the mapping that lacks it).
pub fn line_of(lines: &HashMap<String, usize>, path: &str) -> Option<usize> {
    let mut path = path;
    loop {
        if path.is_empty() {
            return None;
        }
        if let Some(line) = lines.get(path) {
            return Some(*line);
        }
        let cut = path.rfind(['.', '[']).unwrap_or(0);
        path = &path[..cut];
    }
}

enum Frame {
    /// `key` is the full path of the entry whose value comes next; `None` while a key is due.
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

/// The path of a value node starting now, recording sequence items' lines; consumes the key
/// of the enclosing mapping entry.
fn node_path(stack: &mut [Frame], lines: &mut HashMap<String, usize>, line: usize) -> String {
    match stack.last_mut() {
        None => String::new(),
        Some(Frame::Map { path, key }) => key.take().unwrap_or_else(|| path.clone()),
        Some(Frame::Seq { path, next }) => {
            let item = format!("{path}[{next}]");
            *next += 1;
            lines.entry(item.clone()).or_insert(line);
            item
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nstacks:\n  - name: prod\n    dir: infra\n    paths:\n      - infra/**\n      - lib/**\n  - { name: dev, dir: dev }\nreviews:\n  - name: sec\n    from:\n      teams: [acme/security]\n";

    #[test]
    fn keys_and_items_get_their_lines() {
        let lines = key_lines(TEXT);
        assert_eq!(lines.get("version"), Some(&1));
        assert_eq!(lines.get("stacks"), Some(&2));
        assert_eq!(lines.get("stacks[0]"), Some(&3));
        assert_eq!(lines.get("stacks[0].name"), Some(&3));
        assert_eq!(lines.get("stacks[0].dir"), Some(&4));
        assert_eq!(lines.get("stacks[0].paths[1]"), Some(&7));
        assert_eq!(lines.get("stacks[1].dir"), Some(&8), "flow mappings too");
        assert_eq!(lines.get("reviews[0].from.teams[0]"), Some(&12));
    }

    #[test]
    fn a_missing_key_falls_back_to_its_mapping() {
        let lines = key_lines(TEXT);
        assert_eq!(line_of(&lines, "stacks[1].stack"), Some(8));
        assert_eq!(line_of(&lines, "reviews[0].approvals"), Some(10));
        assert_eq!(line_of(&lines, "nope"), None);
        assert_eq!(line_of(&lines, ""), None);
    }

    #[test]
    fn broken_yaml_gives_what_was_read() {
        let lines = key_lines("version: 1\nstacks: [\n");
        assert_eq!(lines.get("version"), Some(&1));
    }
}
