//! A minimal stand-in for libtest in the `harness = false` tests (the crash tests, which
//! re-run or kill processes of their own): `--list`, a name filter, one async test.

use std::future::Future;

/// Runs `test` as the binary's one test named `name`, honouring `--list` and name filters
/// the way `cargo test` passes them.
pub fn run_single<F: Future<Output = ()>>(name: &str, test: impl FnOnce() -> F) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{name}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        println!("0 passed, 0 failed");
        return;
    }
    println!("test {name} ...");
    actix_rt::System::new().block_on(test());
    println!("test {name} ... ok");
    println!("1 passed, 0 failed");
}
