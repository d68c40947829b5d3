//! The Kubernetes incident and its variants, asserted on the run's structured result with the
//! bounds the model implies (renew interval 10s, etcd request timeout 7s, grace 50s, monitor
//! period 5s).

use raftsim::scenario::builtin;
use raftsim::sim::trace::{Role, TraceEvent};
use raftsim::{run, RunOptions, RunResult, Scenario, ScenarioError, SimDuration, SimTime};

fn run_builtin(name: &str) -> RunResult {
    let s = builtin::load(name).expect("built-in").expect("valid");
    let r = run(&s, &RunOptions::default());
    let failed: Vec<String> = r
        .failed_verdicts()
        .map(|v| format!("{}: {}", v.check, v.detail))
        .collect();
    assert!(failed.is_empty(), "{name}: {failed:#?}");
    r
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

const PINNED_TO_1: [&str; 3] = ["master-1", "worker-1", "worker-4"];
const HEALTHY: [&str; 6] = [
    "master-2", "master-3", "worker-2", "worker-3", "worker-5", "worker-6",
];
const STALL: (u64, u64) = (60, 180);

#[test]
fn incident_renewals_fail_from_the_first_renewal_after_the_stall() {
    let r = run_builtin("k8s-local-etcd-follower-stall");
    for n in PINNED_TO_1 {
        let ok_before = r
            .renewals(n)
            .into_iter()
            .filter(|t| *t < secs(STALL.0))
            .count();
        assert!(ok_before >= 5, "{n} renewed normally before the stall");
        // The first attempt after the stall starts within one renew interval (10s, +4% jitter)
        // and fails after etcd's 7s request timeout.
        let first_fail = *r.renewal_failures(n).first().expect("failures");
        assert!(
            first_fail > secs(STALL.0) && first_fail <= secs(STALL.0 + 10 + 1 + 7),
            "{n}: {first_fail}"
        );
        let ok_during = r
            .renewals(n)
            .into_iter()
            .filter(|t| *t > secs(STALL.0 + 1) && *t < secs(STALL.1))
            .count();
        assert_eq!(ok_during, 0, "{n} renewed during the stall");
    }
}

#[test]
fn incident_nodes_go_not_ready_grace_after_their_last_effective_renewal() {
    let r = run_builtin("k8s-local-etcd-follower-stall");
    let k = r.scenario.kubernetes.as_ref().unwrap();
    let (grace, period) = (k.node_monitor_grace_period, k.node_monitor_period);
    assert_eq!(grace, SimDuration::from_secs(50), "v1.32 default");
    let effective = r.effective_writes_by_key();
    for n in PINNED_TO_1 {
        let unknown = r.condition_changes(n, "Unknown");
        assert_eq!(unknown.len(), 1, "{n}");
        let last = r
            .renewals(n)
            .into_iter()
            .chain(
                effective[raftsim::k8s::lease_key(n).as_str()]
                    .iter()
                    .copied(),
            )
            .filter(|t| *t <= unknown[0])
            .max()
            .unwrap();
        let lo = last + grace;
        // The controller sees a renewal on its next monitor tick, and checks the grace on ticks.
        let hi = last + grace + period + period + SimDuration::from_secs(1);
        assert!(
            unknown[0] > lo && unknown[0] <= hi,
            "{n}: NotReady at {} not in ({lo}, {hi}]",
            unknown[0]
        );
        let tainted: Vec<&str> = r
            .trace
            .iter()
            .filter_map(|t| match &t.event {
                TraceEvent::NodeTaint {
                    node,
                    taint,
                    added: true,
                } if node == n => Some(taint.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            tainted,
            [
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute"
            ]
        );
        // Ready again after the stall, once the kubelet posts status.
        let ready = r.condition_changes(n, "True");
        assert!(
            ready.len() == 1 && ready[0] > secs(STALL.1) && ready[0] < secs(STALL.1 + 20),
            "{n}: {ready:?}"
        );
    }
    // The stall is shorter than the 300s toleration: no eviction.
    assert!(!r
        .trace
        .iter()
        .any(|t| matches!(t.event, TraceEvent::PodsEvicted { .. })));
}

#[test]
fn incident_other_nodes_stay_ready_and_etcd_keeps_quorum() {
    let r = run_builtin("k8s-local-etcd-follower-stall");
    for n in HEALTHY {
        assert!(r.condition_changes(n, "Unknown").is_empty(), "{n}");
        assert!(r.renewal_failures(n).is_empty(), "{n}");
    }
    for p in r.cluster_probes.iter().filter(|p| p.at >= secs(1)) {
        assert_eq!(p.leader().map(|l| l.0), Some(2), "leader at {}", p.at);
    }
    let text = raftsim::report::kubernetes::availability(&r);
    assert!(
        text.contains(
            "while these clients were failing every lease renewal: master-1, worker-1, worker-4."
        ),
        "{text}"
    );
    let nodes = raftsim::report::kubernetes::get_nodes(&r);
    assert_eq!(
        nodes[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    assert_eq!(
        nodes[1].split_whitespace().collect::<Vec<_>>(),
        ["master-1", "Ready", "control-plane", "4m", "v1.32.0"]
    );
}

#[test]
fn grace_period_follows_the_kubernetes_version() {
    let mut sets = vec![("kubernetes.version".to_string(), "1.31".to_string())];
    let s = builtin::load_with_overrides("k8s-local-etcd-follower-stall", &sets)
        .unwrap()
        .unwrap();
    assert_eq!(
        s.kubernetes.as_ref().unwrap().node_monitor_grace_period,
        SimDuration::from_secs(40)
    );
    let r = run(&s, &RunOptions::default());
    let unknown = r.condition_changes("worker-1", "Unknown")[0];
    let base = run_builtin("k8s-local-etcd-follower-stall");
    assert!(
        unknown < base.condition_changes("worker-1", "Unknown")[0],
        "40s grace marks nodes earlier"
    );
    sets.push((
        "controller_manager.node_monitor_grace_period".into(),
        "90s".into(),
    ));
    let s = builtin::load_with_overrides("k8s-local-etcd-follower-stall", &sets)
        .unwrap()
        .unwrap();
    assert_eq!(
        s.kubernetes.as_ref().unwrap().node_monitor_grace_period,
        SimDuration::from_secs(90)
    );
}

#[test]
fn all_endpoints_spreads_failures_thin_and_churns_controller_leadership() {
    let r = run_builtin("k8s-all-endpoints-follower-stall");
    let names = r.scenario.kubernetes.as_ref().unwrap().node_names();
    let failures: usize = names.iter().map(|n| r.renewal_failures(n).len()).sum();
    assert!(failures > 10, "{failures}");
    for n in &names {
        assert!(r.condition_changes(n, "Unknown").is_empty(), "{n}");
        assert!(
            r.renewal_failures(n)
                .iter()
                .all(|t| *t > secs(STALL.0) && *t < secs(STALL.1 + 10)),
            "{n}"
        );
    }
    let losses = r
        .trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::KcmLeadership {
                    acquired: false,
                    ..
                }
            )
        })
        .count();
    assert!(losses >= 2, "{losses}");
}

#[test]
fn leader_stall_elects_a_new_leader_while_the_old_one_still_claims_it() {
    let r = run_builtin("k8s-local-etcd-leader-stall");
    let new_leader = r
        .trace
        .iter()
        .find(|t| {
            t.at > secs(STALL.0)
                && matches!(
                    t.event,
                    TraceEvent::RoleChanged {
                        role: Role::Leader,
                        term: 2,
                        ..
                    }
                )
        })
        .expect("a new leader in term 2");
    assert!(
        new_leader.at < secs(STALL.0 + 5),
        "elected at {}",
        new_leader.at
    );
    // etcd-1 learns the higher term only when its fsync returns.
    let stepped_down = r
        .trace
        .iter()
        .find(|t| matches!(t.event, TraceEvent::RoleChanged { node, role: Role::Follower, .. } if node.0 == 1))
        .expect("etcd-1 steps down");
    assert!(stepped_down.at >= secs(STALL.1), "{}", stepped_down.at);
    for n in PINNED_TO_1 {
        assert_eq!(r.condition_changes(n, "Unknown").len(), 1, "{n}");
    }
}

#[test]
fn readyz_load_balancer_moves_kubelets_off_the_stalled_apiserver() {
    let r = run_builtin("k8s-lb-readyz-follower-stall");
    let out = r
        .trace
        .iter()
        .find(|t| {
            matches!(
                t.event,
                TraceEvent::LbBackend {
                    apiserver: 1,
                    healthy: false
                }
            )
        })
        .expect("apiserver-1 leaves the rotation");
    assert!(
        out.at > secs(STALL.0) && out.at < secs(STALL.0 + 20),
        "{}",
        out.at
    );
    let names = r.scenario.kubernetes.as_ref().unwrap().node_names();
    for n in &names {
        assert!(r.condition_changes(n, "Unknown").is_empty(), "{n}");
        // At most two failed attempts before closeAllConns re-dials through the balancer.
        assert!(r.renewal_failures(n).len() <= 2, "{n}");
    }
    assert!(r.kubelets.iter().all(|(_, a)| *a != 1), "{:?}", r.kubelets);
}

#[test]
fn counterfactual_diff_shows_what_changed() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args([
            "diff",
            "k8s-local-etcd-follower-stall",
            "--set",
            "apiserver.etcd_servers=all",
            // A typical seed: in about 1 seed in 15 a node still goes NotReady with every
            // member listed (see k8s-all-endpoints-follower-stall's description); seed 1 is one.
            "--seed",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("worker-1 ") && l.contains("NotReady"))
        .unwrap();
    assert!(
        line.contains("never") && line.ends_with("<- changed"),
        "{line}"
    );
    assert!(
        text.contains("kube-controller-manager leadership losses: 0 ->"),
        "{text}"
    );
}

fn bad(body: &str) -> String {
    let head = "name = \"k\"\ndescription = \"d\"\nduration = \"60s\"\n[kubernetes]\nworkers = 3\n";
    match Scenario::parse(&format!("{head}{body}"), "k.toml") {
        Err(e @ ScenarioError::Invalid { .. }) => e.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_kubernetes_settings_get_positions_and_allowed_values() {
    let e = bad("[apiserver]\netcd_servers = \"nearest\"\n");
    assert!(
        e.starts_with("k.toml:7:16:") && e.contains("`local`") && e.contains("`all`"),
        "{e}"
    );
    let e = bad("[kubelet]\nbind_workers = [1, 2, 4]\n");
    assert!(
        e.starts_with("k.toml:7:16:") && e.contains("master 4, which does not exist"),
        "{e}"
    );
    let e = bad("[kubelet]\nbind_workers = [1, 2]\n");
    assert!(e.contains("lists 2 masters for 3 workers"), "{e}");
    let e = bad("[controller_manager]\nnode_monitor_grace_period = \"8s\"\n");
    assert!(
        e.starts_with("k.toml:7:29:")
            && e.contains("must be longer than the kubelet renew_interval (10s)"),
        "{e}"
    );
    let e = bad("[kubelet]\npath = \"lb\"\n");
    assert!(
        e.contains("`pinned`") && e.contains("`lb-readyz`") && e.contains("`lb-tcp`"),
        "{e}"
    );
    let e = bad("[kubernetes2]\n");
    assert!(e.contains("unknown field `kubernetes2`"), "{e}");
    let e = bad("[[expect]]\ncheck = \"nodes_ready\"\nnodes = [\"worker-9\"]\nfrom = \"1s\"\nuntil = \"2s\"\n");
    assert!(e.contains("no node named `worker-9`"), "{e}");
    let plain =
        "name = \"k\"\ndescription = \"d\"\nduration = \"60s\"\n[kubelet]\npath = \"pinned\"\n";
    let e = Scenario::parse(plain, "p.toml").unwrap_err().to_string();
    assert!(
        e.starts_with("p.toml:4:1:") && e.contains("add a [kubernetes] table"),
        "{e}"
    );
}

#[test]
fn one_pass_questions_answer_as_the_per_node_ones() {
    let r = run_builtin("k8s-local-etcd-follower-stall");
    let by_node = r.renewals_by_node();
    let last = r.last_conditions();
    let names = r.scenario.kubernetes.as_ref().unwrap().node_names();
    assert!(names.iter().any(|n| !r.renewal_failures(n).is_empty()));
    assert!(names.iter().any(|n| last.contains_key(n.as_str())));
    for n in &names {
        let one = by_node.of(n);
        assert_eq!(one.ok, r.renewals(n), "{n}");
        assert_eq!(one.failed, r.renewal_failures(n), "{n}");
        let changes = ["True", "Unknown"].map(|c| r.condition_changes(n, c).last().copied());
        let latest = match changes {
            [Some(t), Some(u)] => Some(if t > u { "True" } else { "Unknown" }),
            [Some(_), None] => Some("True"),
            [None, Some(_)] => Some("Unknown"),
            [None, None] => None,
        };
        assert_eq!(last.get(n.as_str()).copied(), latest, "{n}");
    }
}
