//! The code's own shape, read from `src/`: every domain has the same skeleton; a domain reaches another only
//! through its `service`, `views`, `error` or the types its `mod.rs` re-exports; no domain imports `crate::app`;
//! `platform/` names no domain; no source file is too long to read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const DOMAINS: [&str; 7] = ["auth", "ingest", "persona", "chat", "avatar", "analytics", "billing"];
/// What one domain may name of another, besides the types its `mod.rs` re-exports (capitalised names).
const DOORS: [&str; 3] = ["service", "views", "error"];
const MAX_LINES: usize = 400;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, "rs")
}

fn files_with(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_with(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The source without comments (a doc comment may name any path).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts with `crate::`, cut to its first two segments, with `use` groups expanded:
/// `crate::auth::{AuthUser, views::Role}` gives `[auth, AuthUser]` and `[auth, views]`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at + 7 <= chars.len() {
        let starts = chars[at..at + 7].iter().collect::<String>() == "crate::";
        let after_ident = at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_');
        if starts && !after_ident {
            let mut parser = UseTree { chars: &chars, pos: at + 7 };
            parser.tree(Vec::new(), &mut found);
            at = parser.pos.max(at + 1);
        } else {
            at += 1;
        }
    }
    found
}

/// A small reader of Rust use trees (`a::b`, `a::{b, c::d as e}`, `a::*`).
struct UseTree<'a> {
    chars: &'a [char],
    pos: usize,
}

impl UseTree<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn double_colon(&mut self) -> bool {
        let found = self.chars.get(self.pos..self.pos + 2) == Some(&[':', ':']);
        if found {
            self.pos += 2;
        }
        found
    }

    /// Reads one tree below `prefix`; pushes every path once it has two segments (or ends before).
    fn tree(&mut self, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        self.skip_space();
        if self.peek() == Some('{') {
            self.pos += 1;
            loop {
                self.skip_space();
                match self.peek() {
                    Some('}') => {
                        self.pos += 1;
                        return;
                    }
                    None => return,
                    _ => {}
                }
                let before = self.pos;
                self.tree(prefix.clone(), out);
                self.skip_space();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some('}') => {
                        self.pos += 1;
                        return;
                    }
                    _ if self.pos == before => return,
                    _ => {}
                }
            }
        }
        let ident = self.ident();
        if ident.is_empty() {
            if !prefix.is_empty() {
                out.push(prefix);
            }
            if self.peek() == Some('*') {
                self.pos += 1;
            }
            return;
        }
        let mut path = prefix;
        path.push(ident);
        if path.len() < 2 && self.double_colon() {
            self.tree(path, out);
            return;
        }
        out.push(path);
        // Deeper segments and groups say nothing more about which door was used: skip them.
        while self.double_colon() {
            if self.peek() == Some('{') {
                self.tree(Vec::new(), &mut Vec::new());
            } else {
                self.ident();
            }
        }
    }
}

#[test]
fn paths_are_read_through_use_groups() {
    let paths = crate_paths("use crate::auth::{AuthUser, views::Role};\nlet x = crate::chat::store::thing();");
    let strings: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(strings, ["auth::AuthUser", "auth::views", "chat::store"]);
    let nested: Vec<String> = crate_paths("use crate::{auth::service, ingest::{store, IngestService}};")
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(nested, ["auth::service", "ingest::store", "ingest::IngestService"]);
}

#[test]
fn domains_reach_each_other_only_through_their_doors() {
    let mut breaches = Vec::new();
    for domain in DOMAINS {
        let dir = src().join(domain);
        if !dir.exists() {
            continue;
        }
        for file in rust_files(&dir) {
            for path in crate_paths(&code(&file)) {
                let name = file.strip_prefix(src()).unwrap().display().to_string();
                let first = path[0].as_str();
                if first == "app" {
                    breaches.push(format!("{name} imports crate::app"));
                    continue;
                }
                if first == domain || !DOMAINS.contains(&first) {
                    continue;
                }
                let Some(second) = path.get(1) else {
                    breaches.push(format!("{name} names the whole domain {first}"));
                    continue;
                };
                let door = DOORS.contains(&second.as_str()) || second.starts_with(char::is_uppercase);
                if !door {
                    breaches.push(format!("{name} reaches into crate::{first}::{second}"));
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "domains must use each other's service, views, error or re-exports:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn platform_knows_no_domain() {
    let mut breaches = Vec::new();
    for file in rust_files(&src().join("platform")) {
        for path in crate_paths(&code(&file)) {
            if path[0] == "app" || DOMAINS.contains(&path[0].as_str()) {
                breaches.push(format!("{} names crate::{}", file.display(), path.join("::")));
            }
        }
    }
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn every_domain_with_routes_has_the_same_skeleton() {
    let skeleton = ["mod.rs", "routes", "service", "store", "entities.rs", "error.rs", "views.rs"];
    let mut checked = BTreeSet::new();
    for domain in DOMAINS {
        let dir = src().join(domain);
        if !dir.exists() {
            continue;
        }
        let has = |part: &str| {
            dir.join(part).exists() || dir.join(format!("{part}.rs")).exists() || dir.join(part).join("mod.rs").exists()
        };
        // Every domain, even a seam, has these: the door others use, and its place in the crate.
        for part in ["mod.rs", "service"] {
            assert!(has(part), "{domain} has no {part}");
        }
        if has("routes") {
            let missing: Vec<&str> = skeleton.into_iter().filter(|part| !has(part)).collect();
            assert!(missing.is_empty(), "{domain} lacks {missing:?} of the domain skeleton");
            checked.insert(domain);
        }
    }
    assert!(checked.len() >= 4, "only {checked:?} have routes");
}

#[test]
fn no_source_file_is_too_long_to_read() {
    // The web app's own modules too; vendored libraries are not ours to split.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let web = files_with(&root.join("static"), "js").into_iter().filter(|f| !f.starts_with(root.join("static/vendor")));
    let long: Vec<String> = rust_files(&src())
        .into_iter()
        .chain(web)
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these into smaller files: {long:?}");
}
