//! The layering of the library, checked on its source: each top-level module imports only the
//! modules listed before it, so there is no import cycle and `sim/` (the foundation) imports
//! nothing above it. `docs/architecture.md` draws the same order.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom to top. A module may use only the modules before it (and itself).
const LAYERS: &[&str] = &[
    "sim", "net", "disk", "node", "client", "k8s", "record", "scenario", "check", "world", "run",
    "report", "explore",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`src/check/safety.rs` -> `check`).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The top-level modules a file names through `crate::X`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn modules_import_only_layers_below_them() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut problems = Vec::new();
    for f in &files {
        let Some(module) = module_of(f) else { continue };
        let Some(level) = LAYERS.iter().position(|l| *l == module) else {
            assert!(
                ["lib", "main"].contains(&module.as_str()),
                "{} is in no layer: add `{module}` to LAYERS and docs/architecture.md",
                f.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for used in uses(&text) {
            match LAYERS.iter().position(|l| *l == used) {
                Some(u) if u > level => problems.push(format!(
                    "{} ({module}) imports `{used}`, a layer above it",
                    f.display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "upward imports:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_list_names_every_module() {
    let lib = std::fs::read_to_string("src/lib.rs").unwrap();
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let listed: BTreeSet<&str> = LAYERS.iter().copied().collect();
    assert_eq!(declared, listed, "src/lib.rs modules and LAYERS differ");
}

#[test]
fn the_import_scan_sees_paths_in_use_lines_and_in_code() {
    let found =
        uses("use crate::world::Sim;\nlet x = crate::check::durability::faults_healed(s, r);");
    assert_eq!(found, BTreeSet::from(["world".into(), "check".into()]));
}
