//! The README documents what users ask about first (issue 9, item 23): exit codes as the
//! binary returns them, `max_rejected`'s default, that each `bcsync demo` seeds a fresh
//! sandbox (so it promises no incremental second demo run), and the installed-binary form
//! of the commands beside `cargo run`.
#![allow(clippy::unwrap_used)]

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

#[test]
fn exit_codes_are_documented_as_the_binary_returns_them() {
    let text = readme();
    let section = text
        .split("## Exit codes")
        .nth(1)
        .expect("an Exit codes section")
        .split("\n## ")
        .next()
        .unwrap();
    for row in ["| 0 ", "| 1 ", "| 2 ", "| 130 ", "| 143 "] {
        assert!(section.contains(row), "no {row:?} row in:\n{section}");
    }
    assert!(section.contains("max_rejected"));
    assert!(section.contains("interrupted; rerun to resume"));
    // 2 is what the binary returns for a command line it does not understand.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn max_rejected_default_and_how_to_raise_it() {
    let text = readme();
    assert!(text.contains("`max_rejected` (per `[[sync]]`, default `0`)"));
    assert!(text.contains("max_rejected = 25"));
}

#[test]
fn the_demo_promises_no_incremental_second_run() {
    let text = readme();
    assert!(
        !text.contains("the second\nrun is incremental")
            && !text.contains("the second run is incremental")
    );
    assert!(text.contains("Each `bcsync demo` seeds a fresh in-process sandbox"));
    assert!(text.contains("It cannot show changes being picked up"));
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli/demo.rs")).unwrap();
    assert!(!demo.contains("the second run is incremental"));
}

#[test]
fn commands_are_given_installed_and_through_cargo() {
    let text = readme();
    assert!(text.contains("cargo install --path crates/bcsync"));
    assert!(text.contains("bcsync demo "));
    assert!(text.contains("cargo run --release -- demo"));
}
