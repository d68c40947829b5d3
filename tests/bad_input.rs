//! Bad scenario files get `file:line:column: message` errors naming what is allowed; never a
//! panic, never a silent default.

use raftsim::{Scenario, ScenarioError};

const HEAD: &str = "name = \"x\"\ndescription = \"d\"\nduration = \"10s\"\n";

fn err(body: &str) -> (usize, usize, String) {
    let text = format!("{HEAD}{body}");
    match Scenario::parse(&text, "bad.toml") {
        Err(ScenarioError::Invalid {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, "bad.toml");
            (line, column, message)
        }
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

#[test]
fn valid_minimal_file_is_accepted_with_etcd_defaults() {
    let s = Scenario::parse(HEAD, "ok.toml").unwrap();
    assert_eq!(s.cluster.nodes, 3);
    assert_eq!(
        s.cluster.heartbeat_interval,
        raftsim::SimDuration::from_millis(100)
    );
    assert_eq!(
        s.cluster.election_timeout,
        raftsim::SimDuration::from_millis(1000)
    );
    assert_eq!(
        s.cluster.request_timeout,
        raftsim::SimDuration::from_secs(7),
        "etcd ReqTimeout = 5s + 2 x election"
    );
    assert_eq!(s.client.command_timeout, raftsim::SimDuration::from_secs(5));
    assert_eq!(s.client.dial_timeout, raftsim::SimDuration::from_secs(2));
}

#[test]
fn syntax_error() {
    let (line, col, msg) = err("[cluster\nnodes = 3\n");
    assert_eq!((line, col), (4, 9));
    assert!(msg.contains("invalid table header"), "{msg}");
}

#[test]
fn unknown_field_lists_allowed_ones() {
    let (line, col, msg) = err("[cluster]\nnodez = 3\n");
    assert_eq!((line, col), (5, 1));
    assert!(
        msg.contains("unknown field `nodez`") && msg.contains("`nodes`"),
        "{msg}"
    );
}

#[test]
fn unknown_fault_kind_lists_kinds() {
    let (line, col, msg) = err("[[fault]]\nkind = \"explode\"\nnode = 1\nat = \"1s\"\n");
    assert_eq!((line, col), (5, 8));
    assert!(
        msg.contains("`explode`") && msg.contains("`disk_stall`") && msg.contains("`pause`"),
        "{msg}"
    );
}

#[test]
fn negative_duration() {
    let (line, _, msg) = err("[[fault]]\nkind = \"pause\"\nnode = 1\nat = \"-1s\"\n");
    assert_eq!(line, 7);
    assert!(msg.contains("negative"), "{msg}");
}

#[test]
fn zero_duration() {
    let text = "name = \"x\"\ndescription = \"d\"\nduration = \"0s\"\n";
    match Scenario::parse(text, "z.toml") {
        Err(ScenarioError::Invalid {
            line,
            column,
            message,
            ..
        }) => {
            assert_eq!((line, column), (3, 12));
            assert!(message.contains("greater than 0s"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let (_, _, msg) = err("[client]\ncommand_timeout = \"0ms\"\n");
    assert!(
        msg.contains("command_timeout must be greater than 0s"),
        "{msg}"
    );
}

#[test]
fn duration_without_unit_names_the_units() {
    let (_, _, msg) = err("[cluster]\nheartbeat_interval = \"100\"\n");
    assert!(msg.contains("us, ms, s, m, h"), "{msg}");
}

#[test]
fn node_id_out_of_range() {
    let (line, col, msg) = err("[[fault]]\nkind = \"pause\"\nnode = 4\nat = \"1s\"\n");
    assert_eq!((line, col), (6, 8));
    assert!(
        msg.contains("node 4 does not exist") && msg.contains("1..=3"),
        "{msg}"
    );
    let (_, _, msg) = err("[[command]]\nat = \"1s\"\nrun = \"get a\"\nendpoints = [0]\n");
    assert!(msg.contains("node 0 does not exist"), "{msg}");
}

#[test]
fn stall_window_that_ends_before_it_starts() {
    let (line, col, msg) =
        err("[[fault]]\nkind = \"disk_stall\"\nnode = 1\nat = \"5s\"\nuntil = \"2s\"\n");
    assert_eq!((line, col), (8, 9));
    assert!(
        msg.contains("ends (2.000s) before it starts (5.000s)"),
        "{msg}"
    );
}

#[test]
fn field_that_does_not_belong_to_the_fault_kind() {
    let (_, _, msg) = err("[[fault]]\nkind = \"pause\"\nnode = 1\nio = \"wal\"\nat = \"1s\"\n");
    assert!(
        msg.contains("`io` does not apply to kind = \"pause\""),
        "{msg}"
    );
}

#[test]
fn wrong_type() {
    let (_, _, msg) = err("[cluster]\nnodes = \"three\"\n");
    assert!(msg.contains("expected u64"), "{msg}");
}

#[test]
fn bad_command_points_into_the_string() {
    let (line, col, msg) = err("[[command]]\nat = \"1s\"\nrun = \"put hello\"\n");
    assert_eq!((line, col), (6, 17));
    assert!(msg.contains("put KEY VALUE"), "{msg}");
    let (_, _, msg) = err("[[command]]\nat = \"1s\"\nrun = \"frob x\"\n");
    assert!(msg.contains("allowed commands"), "{msg}");
}

#[test]
fn contradictory_values() {
    let (_, _, msg) = err("[network]\nlatency_min = \"5ms\"\nlatency_max = \"1ms\"\n");
    assert!(
        msg.contains("latency_min (5ms) is greater than latency_max (1ms)"),
        "{msg}"
    );
    let (_, _, msg) = err("[cluster]\nelection_timeout = \"150ms\"\n");
    assert!(msg.contains("whole multiple"), "{msg}");
    let (_, _, msg) = err("[[command]]\nat = \"20s\"\nrun = \"get a\"\n");
    assert!(msg.contains("after the end of the run"), "{msg}");
    let (_, _, msg) = err("[[expect]]\ncheck = \"command\"\nid = \"nope\"\n");
    assert!(msg.contains("no command has id `nope`"), "{msg}");
    let (_, _, msg) = err("[network]\ndrop = \"3/2\"\n");
    assert!(msg.contains("0 <= num <= den"), "{msg}");
}

#[test]
fn expect_fields_that_do_not_belong_to_the_check_are_errors() {
    let (line, col, msg) = err("[[expect]]\ncheck = \"converged\"\nnodes = [\"worker-1\"]\n");
    assert_eq!((line, col), (6, 1));
    assert!(
        msg.contains("`nodes` does not apply to check = \"converged\"")
            && msg.contains("check, why"),
        "{msg}"
    );
    let (_, _, msg) = err("[[expect]]\ncheck = \"convergd\"\n");
    assert!(
        msg.contains("unknown check `convergd`") && msg.contains("converged"),
        "{msg}"
    );
    let (_, _, msg) = err("[[expect]]\nwhy = \"x\"\n");
    assert!(msg.contains("needs `check`"), "{msg}");
    let (_, _, msg) = err("[[command]]\nid = \"a\"\nat = \"1s\"\nrun = \"get k\"\n[[expect]]\ncheck = \"command\"\nid = \"a\"\nlatency = 5\n");
    assert!(msg.contains("`latency` must be a duration"), "{msg}");
}

#[test]
fn hostile_files_get_positions_not_panics() {
    // A non-ASCII character before the error, and an escape: positions stay on characters.
    let (line, col, msg) = err("[[command]]\nat = \"1s\"\nrun = \"\"\"put k vé Z\"\"\"\n");
    assert_eq!((line, col), (6, 19));
    assert!(msg.contains("put KEY VALUE"), "{msg}");
    let (line, _, _) = err("[[command]]\nat = \"1s\"\nrun = \"put k v\\u00e9 \\tZ\"\n");
    assert_eq!(line, 6);
    // Huge counts are refused before anything is expanded.
    let (_, _, msg) = err(
        "[[command]]\nat = \"1s\"\nrun = \"get k\"\nrepeat = 9223372036854775807\nevery = \"1s\"\n",
    );
    assert!(msg.contains("repeat must be between 1 and 100000"), "{msg}");
    let (_, _, msg) =
        err("[[command]]\nat = \"1s\"\nrun = \"get k\"\nrepeat = 2\nevery = \"8760h\"\n");
    assert!(
        msg.contains("repetition 2 would run after the end"),
        "{msg}"
    );
    let (_, _, msg) =
        err("[[fault]]\nkind = \"partition\"\nat = \"1s\"\ngroups = [[], [1, 2, 3]]\n");
    assert!(msg.contains("partition group is empty"), "{msg}");
    let (_, _, msg) = err("[[command]]\nat = \"1s\"\nrun = \"\"\n");
    assert!(!msg.is_empty());
}

#[test]
fn files_that_are_not_utf8_get_a_position() {
    let p = std::env::temp_dir().join(format!("raftsim-bad-utf8-{}.toml", std::process::id()));
    std::fs::write(&p, b"name = \"x\"\ndescription = \"\xff\"\n").unwrap();
    let e = Scenario::load(&p).unwrap_err().to_string();
    assert!(e.contains("2:16: not UTF-8"), "{e}");
}

#[test]
fn oracle_expectation_names_the_oracles_it_knows() {
    let (line, _, msg) = err("[[expect]]\ncheck = \"oracle\"\noracle = \"safety\"\nfires = true\n");
    assert_eq!(line, 6);
    assert!(
        msg.contains("raft-safety, ready-contract, linearizability, durability, watch"),
        "{msg}"
    );
    let (_, _, msg) = err("[[expect]]\ncheck = \"oracle\"\nfires = true\n");
    assert!(msg.contains("needs `oracle`, one of: raft-safety"), "{msg}");
    let (_, _, msg) = err("[[expect]]\ncheck = \"oracle\"\noracle = \"durability\"\n");
    assert!(msg.contains("needs `fires`"), "{msg}");
}

#[test]
fn leader_elections_needs_a_bound_and_an_ordered_one() {
    let (_, _, msg) =
        err("[[expect]]\ncheck = \"leader_elections\"\nfrom = \"1s\"\nuntil = \"2s\"\n");
    assert!(msg.contains("needs `min`, `max` or both"), "{msg}");
    let (line, _, msg) = err(
        "[[expect]]\ncheck = \"leader_elections\"\nfrom = \"1s\"\nuntil = \"2s\"\nmin = 3\nmax = 1\n",
    );
    assert_eq!(line, 9);
    assert!(msg.contains("`max` is below `min` (3)"), "{msg}");
}

#[test]
fn randomize_election_timeout_must_be_a_boolean() {
    let (line, _, msg) = err("[cluster]\nrandomize_election_timeout = \"no\"\n");
    assert_eq!(line, 5);
    assert!(msg.contains("expected a boolean"), "{msg}");
}

#[test]
fn clock_drift_needs_a_speed_that_drifts() {
    let (line, _, msg) =
        err("[[fault]]\nkind = \"clock_drift\"\nnode = 1\nat = \"1s\"\nspeed_permille = 1000\n");
    assert_eq!(line, 8);
    assert!(msg.contains("1..=10000 and not 1000"), "{msg}");
    let (_, _, msg) = err("[[fault]]\nkind = \"clock_drift\"\nnode = 1\nat = \"1s\"\n");
    assert!(msg.contains("speed_permille"), "{msg}");
    let (_, _, msg) = err("[[fault]]\nkind = \"clock_drift\"\nnode = 1\nat = \"1s\"\nspeed_permille = 500\nio = \"wal\"\n");
    assert!(msg.contains("io"), "{msg}");
}

#[test]
fn snapshot_bandwidth_must_be_positive() {
    let (line, _, msg) = err("[network]\nsnapshot_bandwidth_bytes_per_s = 0\n");
    assert_eq!(line, 5);
    assert!(msg.contains("at least 1"), "{msg}");
    let (_, _, msg) =
        err("[[fault]]\nkind = \"disk_stall\"\nnode = 1\nat = \"1s\"\nio = \"disk\"\n");
    assert!(msg.contains("snap"), "{msg}");
}

#[test]
fn fault_fields_name_the_kind_as_written() {
    let (_, _, msg) =
        err("[[fault]]\nkind = \"disk_stall\"\nnode = 1\nat = \"1s\"\nlatency_max = \"1s\"\n");
    assert!(msg.contains("kind = \"disk_stall\""), "{msg}");
    let (_, _, msg) =
        err("[[fault]]\nkind = \"pause\"\nnode = 1\nat = \"1s\"\nspeed_permille = 500\n");
    assert!(
        msg.contains("`speed_permille` does not apply to kind = \"pause\""),
        "{msg}"
    );
}

#[test]
fn bad_membership_input_is_pointed_at() {
    let (line, _, m) = err("[[command]]\nat = \"1s\"\nrun = \"member add etcd-4\"\n");
    assert_eq!(line, 6);
    assert!(
        m.contains("etcd-4 does not exist") && m.contains("spares"),
        "{m}"
    );
    let (line, _, m) =
        err("[cluster]\nspares = 1\n[[fault]]\nkind = \"start\"\nnode = 2\nat = \"1s\"\n");
    assert_eq!(line, 8);
    assert!(m.contains("must be one of 4..=4"), "{m}");
    let (_, _, m) = err("[cluster]\nnodes = 5\nspares = 3\n");
    assert!(m.contains("at most 7 machines"), "{m}");
    let (_, _, m) = err("[[command]]\nat = \"1s\"\nrun = \"member add node4\"\n");
    assert!(m.contains("etcd-1, etcd-2"), "{m}");
}
