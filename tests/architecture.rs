//! The module map stays a map: no dependency cycle between sibling modules, at any level of
//! `src/` — between the top-level modules (`engine`, `gate`, `forge`, ...) and between the files
//! of one folder (`forge/github/{app,client,transport}.rs`).
//!
//! Every `.rs` file under `src/` is parsed with `syn`; every path that names a module of the crate
//! (`use crate::x::Y`, `super::y::f()`, `self::z`) is an edge from the referring module's branch to
//! the named module's branch below their common ancestor. A cycle among siblings fails the test
//! with the places that make it, so a new one is caught where it is introduced.

#![allow(
    clippy::expect_used,
    reason = "test code: a source tree that cannot be read is a failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path below the crate root (`["forge", "github", "client"]`).
type ModPath = Vec<String>;

/// Where an edge comes from, for the failure message.
#[derive(Debug, Clone)]
struct Site {
    file: PathBuf,
    line: usize,
    path: String,
}

/// A reference from module `from` to the crate path `to` (module segments, then maybe items).
#[derive(Debug)]
struct Reference {
    from: ModPath,
    to: ModPath,
    site: Site,
}

fn module_of(src: &Path, file: &Path) -> ModPath {
    let relative = file.strip_prefix(src).expect("file under src/");
    let mut segments: ModPath = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = segments.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib") {
        segments.push(stem.to_owned());
    }
    segments
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Collects the module declarations and the crate-relative paths of one file.
struct FileVisitor<'a> {
    file: &'a Path,
    /// The module the visitor is in (the file's, then inline `mod x { .. }` below it).
    module: ModPath,
    modules: &'a mut BTreeSet<ModPath>,
    references: &'a mut Vec<Reference>,
}

impl FileVisitor<'_> {
    /// Resolves `crate::`, `super::` and `self::` paths; others name extern crates or items in
    /// scope (already counted where they were imported).
    fn record(&mut self, segments: &[String], line: usize) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut resolved: ModPath;
        let mut rest = segments;
        match first.as_str() {
            "crate" => {
                resolved = Vec::new();
                rest = &rest[1..];
            }
            "self" => {
                resolved = self.module.clone();
                rest = &rest[1..];
            }
            "super" => {
                resolved = self.module.clone();
                while rest.first().is_some_and(|s| s == "super") {
                    resolved.pop();
                    rest = &rest[1..];
                }
            }
            _ => return,
        }
        resolved.extend(rest.iter().cloned());
        self.references.push(Reference {
            from: self.module.clone(),
            to: resolved,
            site: Site {
                file: self.file.to_path_buf(),
                line,
                path: segments
                    .strip_suffix(&["self".to_owned()])
                    .unwrap_or(segments)
                    .join("::"),
            },
        });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.record(&prefix.clone(), line);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.record(&prefix.clone(), line);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(&prefix.clone(), line),
            syn::UseTree::Group(group) => {
                for item in &group.items {
                    self.use_tree(prefix, item, line);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        self.modules.insert(self.module.clone());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let line = item.use_token.span.start().line;
        self.use_tree(&mut Vec::new(), &item.tree, line);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path
            .segments
            .first()
            .map_or(0, |s| s.ident.span().start().line);
        self.record(&segments, line);
        syn::visit::visit_path(self, path);
    }
}

/// Parses `src/` (but `main.rs`, the binary) into its modules and references.
fn crate_graph() -> (BTreeSet<ModPath>, Vec<Reference>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut references = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let text = std::fs::read_to_string(file).expect("readable source");
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: does not parse: {e}", file.display()));
        let module = module_of(&src, file);
        modules.insert(module.clone());
        let mut visitor = FileVisitor {
            file: file
                .strip_prefix(src.parent().expect("crate dir"))
                .expect("under crate"),
            module,
            modules: &mut modules,
            references: &mut references,
        };
        visitor.visit_file(&parsed);
    }
    (modules, references)
}

/// For each parent module, the edges between its children and the places that make them.
type Levels = BTreeMap<ModPath, BTreeMap<(String, String), Vec<Site>>>;

fn sibling_edges(modules: &BTreeSet<ModPath>, references: &[Reference]) -> Levels {
    let mut levels = Levels::new();
    for reference in references {
        let common = reference
            .from
            .iter()
            .zip(&reference.to)
            .take_while(|(a, b)| a == b)
            .count();
        let (Some(from), Some(to)) = (reference.from.get(common), reference.to.get(common)) else {
            continue; // a reference to an ancestor or to the module itself
        };
        if !modules.contains(&reference.to[..=common].to_vec()) {
            continue; // an item of the common ancestor, not a sibling module
        }
        levels
            .entry(reference.from[..common].to_vec())
            .or_default()
            .entry((from.clone(), to.clone()))
            .or_default()
            .push(reference.site.clone());
    }
    levels
}

/// Strongly connected components with more than one member (Tarjan).
fn cycles(edges: &BTreeMap<(String, String), Vec<Site>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let nodes: Vec<&String> = nodes.into_iter().collect();
    let index_of = |name: &String| nodes.iter().position(|n| *n == name).expect("a node");
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (from, to) in edges.keys() {
        next[index_of(from)].push(index_of(to));
    }

    struct Tarjan<'g> {
        next: &'g [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        components: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn connect(&mut self, v: usize) {
            self.index[v] = Some(self.counter);
            self.low[v] = self.counter;
            self.counter += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in &self.next[v] {
                match self.index[w] {
                    None => {
                        self.connect(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }

    let mut tarjan = Tarjan {
        next: &next,
        index: vec![None; nodes.len()],
        low: vec![0; nodes.len()],
        on_stack: vec![false; nodes.len()],
        stack: Vec::new(),
        counter: 0,
        components: Vec::new(),
    };
    for v in 0..nodes.len() {
        if tarjan.index[v].is_none() {
            tarjan.connect(v);
        }
    }
    let mut found: Vec<Vec<String>> = tarjan
        .components
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut names: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect();
    found.sort();
    found
}

#[test]
fn no_dependency_cycle_between_sibling_modules() {
    let (modules, references) = crate_graph();
    let levels = sibling_edges(&modules, &references);
    let mut report = String::new();
    for (parent, edges) in &levels {
        let parent_name = if parent.is_empty() {
            "crate".to_owned()
        } else {
            format!("crate::{}", parent.join("::"))
        };
        for cycle in cycles(edges) {
            report.push_str(&format!(
                "\ncycle among the children of {parent_name}: {}\n",
                cycle.join(", ")
            ));
            for ((from, to), sites) in edges {
                if cycle.contains(from) && cycle.contains(to) {
                    let site = &sites[0];
                    report.push_str(&format!(
                        "  {from} -> {to}: {}:{} `{}`{}\n",
                        site.file.display(),
                        site.line,
                        site.path,
                        match sites.len() {
                            1 => String::new(),
                            n => format!(" (and {} more)", n - 1),
                        }
                    ));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "modules that depend on each other (move the shared piece down, or invert the \
         dependency):{report}"
    );
}

#[test]
fn the_checker_sees_a_cycle_it_is_shown() {
    // The checker itself: two sibling modules that name each other make one cycle, and a
    // reference to an item of the common parent makes none.
    let modules: BTreeSet<ModPath> = [vec!["a".to_owned()], vec!["b".to_owned()]].into();
    let site = || Site {
        file: PathBuf::from("src/x.rs"),
        line: 1,
        path: String::new(),
    };
    let reference = |from: &str, to: &[&str]| Reference {
        from: vec![from.to_owned()],
        to: to.iter().map(|s| (*s).to_owned()).collect(),
        site: site(),
    };
    let references = vec![
        reference("a", &["b", "Thing"]),
        reference("b", &["a", "f"]),
        reference("b", &["Root"]),
    ];
    let levels = sibling_edges(&modules, &references);
    assert_eq!(
        cycles(&levels[&Vec::new()]),
        vec![vec!["a".to_owned(), "b".to_owned()]]
    );
    let acyclic = sibling_edges(&modules, &references[..1]);
    assert!(cycles(&acyclic[&Vec::new()]).is_empty());
}
