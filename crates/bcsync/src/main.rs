//! bcsync CLI.
fn main() {}
