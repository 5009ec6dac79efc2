//! The fuzz corpus (fuzz/corpus/, grown by `cargo fuzz run`) replayed as regression
//! tests, so CI checks every input the fuzzers ever kept without building libFuzzer.

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{} fails the {target} property", path.display());
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
}

#[test]
fn query_file_corpus() {
    replay("query_file", sqlcourier::fuzzing::query_file);
}

#[test]
fn csv_round_trip_corpus() {
    replay("csv_round_trip", sqlcourier::fuzzing::csv_round_trip);
}
