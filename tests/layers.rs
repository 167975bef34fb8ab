//! The architecture, checked: which top-level module of src/ may refer to which.
//!
//! The layers, lowest first, are in [`LAYERS`]. A module may refer to its own layer and those
//! below, with two exceptions. Front ends and commands stand on one level as siblings that must
//! not know each other: a front end never refers to the other front end or to a command, and a
//! command never refers to another command or to a front end (what two of them need belongs in a
//! layer below both). Nothing but main.rs refers to `cli`. Core and shared modules may refer to
//! their siblings, but the graph of top-level modules must have no cycle.
//!
//! References are read from the source text, without building the crate: comments and literals
//! are blanked out, then every path that reaches the crate root is taken (`crate::x`, a
//! `use crate::{x, y::z}` group, `super::x` from where `super` is the crate root, and
//! `alexnet_tui::x` in main.rs). A reference to a name that is not a top-level module (a
//! re-export at the root, a macro) is no dependency between modules and is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Every top-level module of src/, lowest layer first. A new module must be placed here.
const LAYERS: &[(Layer, &[&str])] = &[
    (
        Layer::Core,
        &[
            "config",
            "data",
            "model",
            "precision",
            "train",
            "process",
            "files",
            "units",
        ],
    ),
    (
        Layer::Shared,
        &[
            "session",
            "watch",
            "report",
            "control",
            "curves",
            "runs",
            "interrupts",
            "rate_pick",
        ],
    ),
    (Layer::FrontEnd, &["tui", "headless"]),
    (
        Layer::Command,
        &["bench", "inspect", "predict", "plot", "catalog", "lr_find"],
    ),
    (Layer::Cli, &["cli"]),
];

/// The node that stands for src/main.rs, the binary, above every layer.
const MAIN: &str = "main";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Core,
    Shared,
    FrontEnd,
    Command,
    Cli,
    /// src/main.rs alone.
    Binary,
}

impl Layer {
    /// Front ends and commands share a level: neither is above the other.
    fn level(self) -> u8 {
        match self {
            Layer::Core => 0,
            Layer::Shared => 1,
            Layer::FrontEnd | Layer::Command => 2,
            Layer::Cli => 3,
            Layer::Binary => 4,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Layer::Core => "core",
            Layer::Shared => "shared",
            Layer::FrontEnd => "front end",
            Layer::Command => "command",
            Layer::Cli => "cli",
            Layer::Binary => "main.rs",
        })
    }
}

fn layer_of(module: &str) -> Option<Layer> {
    if module == MAIN {
        return Some(Layer::Binary);
    }
    LAYERS
        .iter()
        .find(|(_, modules)| modules.contains(&module))
        .map(|(layer, _)| *layer)
}

/// Why a reference from a module in `from` to a different module in `to` breaks the rules, or
/// `None` when it is allowed.
fn broken_rule(from: Layer, to: Layer) -> Option<String> {
    use Layer::{Binary, Cli, Command, FrontEnd};
    match (from, to) {
        (Binary, _) => None,
        (_, Cli) => Some(format!("{from} -> {to}, only main.rs may use cli")),
        (FrontEnd | Command, FrontEnd | Command) => Some(format!("{from} -> {to}")),
        _ if to.level() > from.level() => Some(format!("{from} -> {to}, upward")),
        _ => None,
    }
}

/// How a file reaches the crate root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// A file of the library, `depth` modules below the root (1 for src/x.rs and src/x/mod.rs,
    /// 2 for src/x/y.rs): `depth` times `super` is the crate root.
    Library { depth: usize },
    /// src/main.rs: the library is `alexnet_tui`, and `crate` is the binary itself.
    Binary,
}

/// The top-level modules of src/ (and main) with the references between them, each with the
/// files it occurs in.
#[derive(Debug, Default)]
struct Graph {
    /// Every top-level module found in src/, placed in a layer or not.
    modules: BTreeMap<String, PathBuf>,
    /// (from, to) -> files of `from` that refer to `to`, as paths from the crate's folder.
    edges: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Graph {
    fn add_file(&mut self, module: &str, file: &str, source: &str, kind: FileKind) {
        for target in references(source, kind) {
            if target != module && self.modules.contains_key(&target) {
                self.edges
                    .entry((module.to_string(), target))
                    .or_default()
                    .insert(file.to_string());
            }
        }
    }

    fn targets_of<'a>(&'a self, module: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.edges
            .keys()
            .filter(move |(from, _)| from == module)
            .map(|(_, to)| to.as_str())
    }
}

/// The names that `source` reaches from the crate root: `tui` for `crate::tui::app::App`,
/// `config` and `headless` for `use crate::{config::Config, headless::Printer}`.
fn references(source: &str, kind: FileKind) -> BTreeSet<String> {
    let tokens = tokens(&blank_comments_and_literals(source));
    let mut names = BTreeSet::new();
    // Brace depths at which an inline `mod name { .. }` opened: each adds one `super` to reach
    // the root (`mod tests { use super::* }` in src/x.rs means x, not the crate root).
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut brace_depth = 0;
    let mut index = 0;
    while index < tokens.len() {
        match &tokens[index] {
            Token::Open => {
                brace_depth += 1;
                if index >= 2
                    && tokens[index - 2] == Token::Ident("mod".into())
                    && matches!(tokens[index - 1], Token::Ident(_))
                {
                    inline_modules.push(brace_depth);
                }
            }
            Token::Close => {
                if inline_modules.last() == Some(&brace_depth) {
                    inline_modules.pop();
                }
                brace_depth = brace_depth.saturating_sub(1);
            }
            Token::Ident(word) => {
                let starts_path = index == 0 || tokens[index - 1] != Token::PathSep;
                let after_root = match kind {
                    _ if !starts_path => None,
                    FileKind::Library { .. } if word == "crate" => Some(index + 1),
                    FileKind::Library { depth } if word == "super" => {
                        let (supers, next) = super_run(&tokens, index);
                        (supers == depth + inline_modules.len()).then_some(next)
                    }
                    FileKind::Binary if word == "alexnet_tui" => Some(index + 1),
                    _ => None,
                };
                if let Some(separator) = after_root
                    && tokens.get(separator) == Some(&Token::PathSep)
                {
                    let (found, next) = names_after_root(&tokens, separator + 1);
                    names.extend(found);
                    // Past a `{ .. }` group: paths inside it continue this one, they do not
                    // start from here (`use super::{super::x}`).
                    index = next;
                    continue;
                }
            }
            _ => {}
        }
        index += 1;
    }
    names
}

/// How many `super` start at `index` (`super::super::x` has two), and the index after the last.
fn super_run(tokens: &[Token], index: usize) -> (usize, usize) {
    let mut supers = 0;
    let mut next = index;
    while tokens.get(next) == Some(&Token::Ident("super".into())) {
        supers += 1;
        next += 1;
        if tokens.get(next) == Some(&Token::PathSep)
            && tokens.get(next + 1) == Some(&Token::Ident("super".into()))
        {
            next += 1;
        } else {
            break;
        }
    }
    (supers, next)
}

/// The first name after `root::` (one name, or the first name of each item of a `{ .. }` group),
/// and the index of the token after the name or the group.
fn names_after_root(tokens: &[Token], start: usize) -> (Vec<String>, usize) {
    let is_name = |word: &str| !matches!(word, "self" | "super" | "crate");
    match tokens.get(start) {
        Some(Token::Ident(word)) if is_name(word) => (vec![word.clone()], start + 1),
        Some(Token::Open) => {
            let mut names = Vec::new();
            let mut depth = 1;
            let mut item_starts = true;
            let mut index = start + 1;
            while index < tokens.len() && depth > 0 {
                match &tokens[index] {
                    Token::Open => depth += 1,
                    Token::Close => depth -= 1,
                    Token::Ident(word) if depth == 1 && item_starts && is_name(word) => {
                        names.push(word.clone());
                    }
                    _ => {}
                }
                item_starts = depth == 1 && tokens[index] == Token::Comma;
                index += 1;
            }
            (names, index)
        }
        _ => (Vec::new(), start),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c.is_alphabetic() || c == '_' {
            let start = index;
            while index < chars.len() && (chars[index].is_alphanumeric() || chars[index] == '_') {
                index += 1;
            }
            let word: String = chars[start..index].iter().collect();
            // A raw identifier `r#name` is the name.
            if word == "r" && chars.get(index) == Some(&'#') {
                index += 1;
                continue;
            }
            tokens.push(Token::Ident(word));
            continue;
        }
        let token = match c {
            ':' if chars.get(index + 1) == Some(&':') => {
                index += 1;
                Token::PathSep
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            _ if c.is_whitespace() => {
                index += 1;
                continue;
            }
            _ => Token::Other,
        };
        tokens.push(token);
        index += 1;
    }
    tokens
}

/// `source` with every comment and string, byte-string, raw-string and character literal
/// replaced by spaces (line breaks kept), so that words in them are not read as code.
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, text: &[char]| {
        out.extend(text.iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
    };
    let starts_token = |index: usize| {
        index == 0 || !(chars[index - 1].is_alphanumeric() || chars[index - 1] == '_')
    };
    let mut index = 0;
    while index < chars.len() {
        let rest = &chars[index..];
        let end = if rest.starts_with(&['/', '/']) {
            // Line comment, doc comments included.
            index + rest.iter().position(|&c| c == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            block_comment_end(&chars, index)
        } else if let Some(quote) =
            literal_prefix(rest).filter(|quote| quote.opening == 0 || starts_token(index))
        {
            string_end(&chars, index, quote)
        } else if rest[0] == '\'' {
            char_literal_end(&chars, index).unwrap_or(index)
        } else {
            index
        };
        if end > index {
            blank(&mut out, &chars[index..end]);
            index = end;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

/// The end of a block comment opening at `start`; Rust's block comments nest.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut index = start;
    while index + 1 < chars.len() {
        match (chars[index], chars[index + 1]) {
            ('/', '*') => {
                depth += 1;
                index += 2;
            }
            ('*', '/') => {
                depth -= 1;
                index += 2;
                if depth == 0 {
                    return index;
                }
            }
            _ => index += 1,
        }
    }
    chars.len()
}

/// How a string literal starts at the beginning of `rest`: the prefix length up to the opening
/// quote and, for a raw string, how many `#` close it.
#[derive(Debug, Clone, Copy)]
struct Quote {
    opening: usize,
    raw_hashes: Option<usize>,
}

fn literal_prefix(rest: &[char]) -> Option<Quote> {
    // Optional b or c (byte and C strings), optional r with its hashes, then the quote.
    let mut index = 0;
    if matches!(rest.first(), Some('b' | 'c')) {
        index += 1;
    }
    let mut raw_hashes = None;
    if rest.get(index) == Some(&'r') {
        index += 1;
        let hashes = rest[index..].iter().take_while(|&&c| c == '#').count();
        index += hashes;
        raw_hashes = Some(hashes);
    }
    (rest.get(index) == Some(&'"')).then_some(Quote {
        opening: index,
        raw_hashes,
    })
}

fn string_end(chars: &[char], start: usize, quote: Quote) -> usize {
    let mut index = start + quote.opening + 1;
    match quote.raw_hashes {
        Some(hashes) => {
            while index < chars.len() {
                if chars[index] == '"'
                    && chars[index + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == '#')
                        .count()
                        == hashes
                {
                    return index + 1 + hashes;
                }
                index += 1;
            }
        }
        None => {
            while index < chars.len() {
                match chars[index] {
                    '\\' => index += 2,
                    '"' => return index + 1,
                    _ => index += 1,
                }
            }
        }
    }
    chars.len()
}

/// The end of a character (or byte) literal at `start`, or `None` for a lifetime or label
/// (`'a`, `'static`), which is code.
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start + 1)? {
        // After the backslash comes at least one character, which may be a quote itself.
        '\\' => {
            let close = chars.get(start + 3..)?.iter().position(|&c| c == '\'')?;
            Some(start + 3 + close + 1)
        }
        _ if chars.get(start + 2) == Some(&'\'') => Some(start + 3),
        _ => None,
    }
}

/// The graph of the crate whose sources are in `src`.
fn read_graph(src: &Path) -> Graph {
    let mut graph = Graph::default();
    let mut entries: Vec<PathBuf> = fs::read_dir(src)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", src.display()))
        .map(|entry| entry.expect("entry of src/").path())
        .collect();
    entries.sort();
    for path in &entries {
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let is_module_file = path.extension().is_some_and(|ext| ext == "rs");
        // A folder without Rust files (insta's snapshots/) is no module.
        let is_module_folder = path.is_dir() && !rust_files(path).is_empty();
        if (is_module_file || is_module_folder) && !matches!(name, "lib" | "main") {
            graph
                .modules
                .entry(name.to_string())
                .or_insert_with(|| path.clone());
        }
    }
    let crate_folder = src.parent().unwrap_or(src);
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("file under src/");
        let shown = file
            .strip_prefix(crate_folder)
            .unwrap_or(&file)
            .display()
            .to_string();
        let source = fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("cannot read {shown}: {error}"));
        let components: Vec<&str> = relative
            .components()
            .filter_map(|part| part.as_os_str().to_str())
            .collect();
        let (module, kind) = match components.as_slice() {
            ["lib.rs"] => continue,
            ["main.rs"] => (MAIN.to_string(), FileKind::Binary),
            [first, ..] => {
                let module = first.trim_end_matches(".rs").to_string();
                let is_mod_file = components.last() == Some(&"mod.rs");
                let depth = components.len() - usize::from(is_mod_file);
                (module, FileKind::Library { depth })
            }
            [] => continue,
        };
        graph.add_file(&module, &shown, &source, kind);
    }
    graph
}

fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
        .map(|entry| entry.expect("folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every module in no layer, and every reference that breaks a rule, one line each.
fn violations(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (module, path) in &graph.modules {
        if layer_of(module).is_none() {
            found.push(format!(
                "{} is in no layer: place `{module}` in LAYERS in tests/layers.rs",
                shown_path(path)
            ));
        }
    }
    for ((from, to), files) in &graph.edges {
        let (Some(from_layer), Some(to_layer)) = (layer_of(from), layer_of(to)) else {
            continue;
        };
        if let Some(rule) = broken_rule(from_layer, to_layer) {
            let root = if from == MAIN { "alexnet_tui" } else { "crate" };
            for file in files {
                found.push(format!("{file} refers to {root}::{to} ({rule})"));
            }
        }
    }
    found
}

/// `src/x.rs` or `src/x/` from a module's path, for messages.
fn shown_path(path: &Path) -> String {
    let parent = path.parent().and_then(Path::file_name);
    let name = path.file_name().map(|name| name.to_string_lossy());
    match (parent, name) {
        (Some(parent), Some(name)) if path.is_dir() => {
            format!("{}/{name}/", parent.to_string_lossy())
        }
        (Some(parent), Some(name)) => format!("{}/{name}", parent.to_string_lossy()),
        _ => path.display().to_string(),
    }
}

/// Every cycle among the modules, each once, as `a -> b -> a` with the first file of each step.
fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    let modules: Vec<&str> = graph.modules.keys().map(String::as_str).collect();
    for (position, start) in modules.iter().enumerate() {
        // Each cycle is found once, from its smallest module: the walk stays above `start`.
        let allowed: BTreeSet<&str> = modules[position..].iter().copied().collect();
        let mut path = vec![*start];
        walk_cycles(graph, &allowed, &mut path, &mut found);
    }
    found
}

fn walk_cycles<'a>(
    graph: &'a Graph,
    allowed: &BTreeSet<&'a str>,
    path: &mut Vec<&'a str>,
    found: &mut Vec<String>,
) {
    // A crate with many cycles has more to fix than a list can say; stop the enumeration there.
    const ENOUGH: usize = 50;
    let Some(&last) = path.last() else { return };
    for next in graph.targets_of(last) {
        if found.len() >= ENOUGH {
            return;
        }
        if next == path[0] {
            found.push(describe_cycle(graph, path));
        } else if allowed.contains(next) && !path.contains(&next) {
            path.push(next);
            walk_cycles(graph, allowed, path, found);
            path.pop();
        }
    }
}

fn describe_cycle(graph: &Graph, path: &[&str]) -> String {
    let mut text = path[0].to_string();
    for (index, from) in path.iter().enumerate() {
        let to = path.get(index + 1).unwrap_or(&path[0]);
        let file = graph
            .edges
            .get(&(from.to_string(), to.to_string()))
            .and_then(|files| files.first())
            .map_or("?", String::as_str);
        text.push_str(&format!(" -> {to} ({file})"));
    }
    text
}

fn this_crate() -> Graph {
    read_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn src_respects_the_layers() {
    let found = violations(&this_crate());
    assert!(
        found.is_empty(),
        "{} breaks of the layers (the rules are at the top of tests/layers.rs); move what two \
         siblings both need into a layer below them:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn no_cycles_among_modules() {
    let found = cycles(&this_crate());
    assert!(
        found.is_empty(),
        "the modules refer to each other in a circle; each cycle with a file of every step:\n{}",
        found.join("\n")
    );
}

/// References the real tree is known to make, each read through a different kind of path
/// (`use crate::x::..`, a `use crate::x::{..}` group, main.rs's `alexnet_tui::x` and its
/// `alexnet_tui::{..}` group). The two tests above pass on a graph with no edge at all, so a
/// reader that silently stops finding references would go unnoticed without this one.
const KNOWN_EDGES: &[(&str, &str)] = &[
    ("tui", "control"),
    ("control", "train"),
    ("headless", "report"),
    ("catalog", "runs"),
    ("runs", "train"),
    ("main", "cli"),
    ("main", "tui"),
    ("main", "headless"),
];

#[test]
fn the_real_tree_has_the_references_it_is_known_to_have() {
    let graph = this_crate();
    let missing_modules: Vec<&str> = LAYERS
        .iter()
        .flat_map(|(_, modules)| modules.iter().copied())
        .filter(|module| !graph.modules.contains_key(*module))
        .collect();
    assert!(
        missing_modules.is_empty(),
        "modules named in LAYERS but not found in src/: {missing_modules:?} (remove them from \
         LAYERS if they are gone, or fix read_graph)"
    );
    let missing: Vec<String> = KNOWN_EDGES
        .iter()
        .filter(|(from, to)| {
            !graph
                .edges
                .contains_key(&(from.to_string(), to.to_string()))
        })
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(
        missing.is_empty(),
        "known references not read from src/: {} ({} references read in all); either the code \
         changed (update KNOWN_EDGES) or the reader lost them",
        missing.join(", "),
        graph.edges.len()
    );
}

/// The checker itself, on made-up sources: each rule must catch what it is there for.
mod checker {
    use super::*;

    const TOP: FileKind = FileKind::Library { depth: 1 };

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn graph_of(files: &[(&str, &str, &str)]) -> Graph {
        let mut graph = Graph::default();
        for (module, _, _) in files.iter().filter(|(module, _, _)| *module != MAIN) {
            graph.modules.insert(
                module.to_string(),
                PathBuf::from(format!("src/{module}.rs")),
            );
        }
        for (module, file, source) in files {
            let kind = if *module == MAIN {
                FileKind::Binary
            } else {
                TOP
            };
            graph.add_file(module, file, source, kind);
        }
        graph
    }

    #[test]
    fn an_inline_path_into_a_front_end_from_core_is_upward() {
        let graph = graph_of(&[
            (
                "train",
                "src/train/worker.rs",
                "fn f() { let x = crate::tui::event::memory(); }",
            ),
            ("tui", "src/tui/mod.rs", ""),
        ]);
        assert_eq!(
            violations(&graph),
            ["src/train/worker.rs refers to crate::tui (core -> front end, upward)"]
        );
    }

    #[test]
    fn a_use_group_naming_the_other_front_end_is_reported() {
        let graph = graph_of(&[
            (
                "tui",
                "src/tui/app.rs",
                "use crate::{config::Config, headless::Printer};",
            ),
            ("headless", "src/headless.rs", ""),
            ("config", "src/config.rs", ""),
        ]);
        assert_eq!(
            violations(&graph),
            ["src/tui/app.rs refers to crate::headless (front end -> front end)"]
        );
    }

    #[test]
    fn commands_and_front_ends_do_not_know_each_other() {
        let graph = graph_of(&[
            (
                "bench",
                "src/bench.rs",
                "use crate::headless::format_duration;",
            ),
            ("plot", "src/plot.rs", "use crate::inspect;"),
            ("headless", "src/headless.rs", "use crate::predict::run;"),
            ("inspect", "src/inspect.rs", ""),
            ("predict", "src/predict.rs", ""),
        ]);
        assert_eq!(
            violations(&graph),
            [
                "src/bench.rs refers to crate::headless (command -> front end)",
                "src/headless.rs refers to crate::predict (front end -> command)",
                "src/plot.rs refers to crate::inspect (command -> command)",
            ]
        );
    }

    #[test]
    fn only_main_uses_cli() {
        let graph = graph_of(&[
            ("session", "src/session.rs", "use crate::cli::TrainArgs;"),
            (MAIN, "src/main.rs", "use alexnet_tui::cli::Cli;"),
            ("cli", "src/cli.rs", ""),
        ]);
        assert_eq!(
            violations(&graph),
            ["src/session.rs refers to crate::cli (shared -> cli, only main.rs may use cli)"]
        );
    }

    #[test]
    fn downward_and_sibling_references_in_lower_layers_are_allowed() {
        let graph = graph_of(&[
            (
                "tui",
                "src/tui/mod.rs",
                "use crate::{session, train::Event};",
            ),
            (
                "session",
                "src/session.rs",
                "use crate::watch; use crate::model;",
            ),
            ("watch", "src/watch.rs", "use crate::config::Config;"),
            ("train", "src/train/mod.rs", "use crate::model::AlexNet;"),
            ("model", "src/model.rs", ""),
            ("config", "src/config.rs", ""),
            (MAIN, "src/main.rs", "use alexnet_tui::{tui, session};"),
        ]);
        assert_eq!(violations(&graph), Vec::<String>::new());
    }

    #[test]
    fn comments_and_literals_are_not_references() {
        let source = r####"
            // crate::tui in a line comment
            /// and crate::headless in a doc comment, [`crate::bench`]
            /* block crate::plot /* nested crate::cli */ still crate::predict */
            const A: &str = "crate::tui";
            const B: &str = "escaped \" crate::headless";
            const C: &str = r#"raw "crate::bench" too"#;
            const D: &[u8] = br##"crate::plot"##;
            const E: char = '"'; const F: char = '\'';
            fn g<'a>(x: &'a str) -> &'a str { let _ = crate::model::SEQUENCE; x }
        "####;
        assert_eq!(references(source, TOP), set(&["model"]));
    }

    #[test]
    fn paths_reaching_the_root_through_super_count_and_others_do_not() {
        let top_file = "use super::config; mod tests { use super::*; use super::train; }";
        assert_eq!(references(top_file, TOP), set(&["config"]));

        let nested_file = "use super::app::App; use super::super::headless::Printer;";
        assert_eq!(
            references(nested_file, FileKind::Library { depth: 2 }),
            set(&["headless"])
        );
        assert_eq!(
            references("use super::{config, super::x};", TOP),
            set(&["config"])
        );
    }

    #[test]
    fn nested_use_groups_give_their_first_names() {
        let source = "use crate::{self, config::{Config, live::Keys}, data, train::{self, Event}};";
        assert_eq!(references(source, TOP), set(&["config", "data", "train"]));
    }

    #[test]
    fn main_reaches_the_library_by_its_crate_name() {
        let source = "use alexnet_tui::cli::{Cli, Commands};\n\
                      use alexnet_tui::{bench, tui};\n\
                      use crate::helpers;\n\
                      fn f() { alexnet_tui::session::summary(); }";
        assert_eq!(
            references(source, FileKind::Binary),
            set(&["bench", "cli", "session", "tui"])
        );
    }

    #[test]
    fn an_unplaced_module_is_reported() {
        let graph = graph_of(&[("gadgets", "src/gadgets.rs", "use crate::config::Config;")]);
        let found = violations(&graph);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("`gadgets`") && found[0].contains("place"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let graph = graph_of(&[
            ("config", "src/config.rs", "use crate::train::Threads;"),
            ("train", "src/train/mod.rs", "use crate::config::Config;"),
            ("model", "src/model.rs", "use crate::config::Config;"),
        ]);
        assert_eq!(
            cycles(&graph),
            ["config -> train (src/config.rs) -> config (src/train/mod.rs)"]
        );
    }

    #[test]
    fn every_cycle_is_reported_once() {
        let graph = graph_of(&[
            ("data", "src/data.rs", "use crate::{model, train};"),
            ("model", "src/model.rs", "use crate::data;"),
            ("train", "src/train.rs", "use crate::model;"),
        ]);
        assert_eq!(
            cycles(&graph),
            [
                "data -> model (src/data.rs) -> data (src/model.rs)",
                "data -> train (src/data.rs) -> model (src/train.rs) -> data (src/model.rs)",
            ]
        );
    }
}
