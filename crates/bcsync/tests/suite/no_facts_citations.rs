//! User-facing text never cites our API notes ("(docs/api-notes.md §2.3)"): users do not have them,
//! so a message states the rule itself (issue 9, item 15). Scans the code of every crate for
//! docs/api-notes.md outside comments, and the doc comments that clap turns into `--help`.
//! `crates/bcsync/src/push/` is checked by the push tests' owner (issue 9, item 15 there).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_user_facing_string_cites_facts() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["bcsync", "bigcommerce", "sandbox"] {
        rust_files(&crates.join(krate).join("src"), &mut files);
    }
    let push = crates.join("bcsync/src/push");
    let cli = crates.join("bcsync/src/cli");
    let mut hits = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&push)) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            // Doc comments of the CLI are --help text; other comments are for us.
            let user_facing =
                !code.starts_with("//") || (file.starts_with(&cli) && code.starts_with("///"));
            let code = code.split(" // ").next().unwrap_or(code);
            if user_facing && code.contains("FACTS") {
                hits.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(files.len() > 50, "scanned only {} files", files.len());
    assert!(
        hits.is_empty(),
        "FACTS cited in user-facing text:\n{}",
        hits.join("\n")
    );
}
