//! The linearizability checker against porcupine's 102 Jepsen etcd histories
//! (`tests/data/porcupine-etcd`): the same verdict as porcupine's own tests on every one, and
//! a violation that names operations of the history.

use raftsim::check::jepsen::parse_log;
use raftsim::check::linearizability::{check, Answer};

fn histories() -> Vec<(String, String, bool)> {
    let dir = "tests/data/porcupine-etcd";
    let expected = std::fs::read_to_string(format!("{dir}/expected.txt")).unwrap();
    expected
        .lines()
        .map(|l| {
            let (n, want) = l.split_once(' ').unwrap();
            let name = format!("etcd_{n}.log");
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            (name, text, want == "true")
        })
        .collect()
}

#[test]
fn every_porcupine_etcd_history_gets_porcupines_verdict() {
    let all = histories();
    assert_eq!(all.len(), 102);
    let mut illegal = 0;
    for (name, text, linearizable) in all {
        let h = parse_log(&text, &name).unwrap();
        match check(&h.ops) {
            Answer::Linearizable => {
                assert!(linearizable, "{name}: porcupine says NOT linearizable")
            }
            Answer::NotLinearizable(v) => {
                assert!(!linearizable, "{name}: porcupine says linearizable\n{v}");
                illegal += 1;
            }
            Answer::Unknown(e) => panic!("{name}: undecided: {e:?}"),
        }
    }
    assert!(
        illegal > 50,
        "most of porcupine's etcd histories are violations"
    );
}
