//! Writes the generated porcupine-style register histories the bench checks (seeds 0..100,
//! linearizable and corrupted, 80 operations, 5 clients) as Jepsen etcd logs into a folder, then
//! times raftsim's checker on each: one line per file with its verdict and milliseconds. The same
//! files feed porcupine's `parseJepsenLog` and `etcdModel` (its `porcupine_test.go`) for a side
//! by side comparison (README, "Speed").
//!
//! usage: cargo run --release --example register_histories -- OUT_DIR

use raftsim::check::generate::{jepsen_log, register_history};
use raftsim::check::linearizability::{check, Answer};

#[allow(clippy::disallowed_methods)] // it measures the checker's wall time
fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: register_histories OUT_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir).expect("cannot create the output folder");
    let (mut total_ms, mut slowest_ms) = (0.0f64, 0.0f64);
    for seed in 0..100 {
        for corrupt in [false, true] {
            let h = register_history(seed, 80, 5, corrupt);
            let kind = if corrupt { "bad" } else { "ok" };
            let path = format!("{dir}/gen_{seed:03}_{kind}.log");
            std::fs::write(&path, jepsen_log(&h)).expect("cannot write a history");
            let start = std::time::Instant::now();
            let verdict = match check(&h) {
                Answer::Linearizable => "Ok",
                Answer::NotLinearizable(_) => "Illegal",
                Answer::Unknown(_) => "Unknown",
            };
            let ms = start.elapsed().as_secs_f64() * 1e3;
            total_ms += ms;
            slowest_ms = slowest_ms.max(ms);
            println!("{path} {verdict} {ms:.2}ms");
        }
    }
    println!("total {total_ms:.1} ms, slowest {slowest_ms:.2} ms");
}
