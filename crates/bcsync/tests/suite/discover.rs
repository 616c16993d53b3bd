//! `bcsync discover` (issue 9, item 22): takes the store flags `check` and `extract` take
//! (it needs none of them), and its table's columns line up whatever the cell widths.
#![allow(clippy::unwrap_used)]

#[test]
fn discover_takes_store_flags_and_aligns_its_columns() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .args([
            "discover",
            "--base-url",
            "http://127.0.0.1:9",
            "--store-hash",
            "abc",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let header = lines.next().unwrap();
    let starts: Vec<usize> = ["api", "paging", "replication", "scope", "children"]
        .iter()
        .map(|h| header.find(&format!("  {h}")).unwrap() + 2)
        .collect();
    let mut rows = 0;
    for line in lines.filter(|l| !l.trim_start().starts_with("note:")) {
        rows += 1;
        let chars: Vec<char> = line.chars().collect();
        for &at in &starts {
            if at >= chars.len() {
                continue; // an empty last column
            }
            assert!(
                chars[at - 1] == ' ' && chars[at] != ' ',
                "column at {at} misaligned:\n{header}\n{line}"
            );
        }
    }
    assert!(rows >= 10, "{stdout}");
}
