//! The scenarios shipped in `sim-scenarios/`, compiled into the binary so `raftsim run NAME`
//! works from any directory.

/// (name, file name, TOML text), in the order `raftsim list` shows them.
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "k8s-local-etcd-follower-stall",
        "sim-scenarios/k8s-local-etcd-follower-stall.toml",
        include_str!("../../sim-scenarios/k8s-local-etcd-follower-stall.toml"),
    ),
    (
        "k8s-all-endpoints-follower-stall",
        "sim-scenarios/k8s-all-endpoints-follower-stall.toml",
        include_str!("../../sim-scenarios/k8s-all-endpoints-follower-stall.toml"),
    ),
    (
        "k8s-local-etcd-leader-stall",
        "sim-scenarios/k8s-local-etcd-leader-stall.toml",
        include_str!("../../sim-scenarios/k8s-local-etcd-leader-stall.toml"),
    ),
    (
        "k8s-lb-readyz-follower-stall",
        "sim-scenarios/k8s-lb-readyz-follower-stall.toml",
        include_str!("../../sim-scenarios/k8s-lb-readyz-follower-stall.toml"),
    ),
    (
        "etcd-follower-frozen",
        "sim-scenarios/etcd-follower-frozen.toml",
        include_str!("../../sim-scenarios/etcd-follower-frozen.toml"),
    ),
    (
        "etcd-frozen-catch-up",
        "sim-scenarios/etcd-frozen-catch-up.toml",
        include_str!("../../sim-scenarios/etcd-frozen-catch-up.toml"),
    ),
    (
        "etcd-follower-fsync-stall",
        "sim-scenarios/etcd-follower-fsync-stall.toml",
        include_str!("../../sim-scenarios/etcd-follower-fsync-stall.toml"),
    ),
    (
        "etcd-leader-fsync-stall",
        "sim-scenarios/etcd-leader-fsync-stall.toml",
        include_str!("../../sim-scenarios/etcd-leader-fsync-stall.toml"),
    ),
    (
        "etcd-leader-crash",
        "sim-scenarios/etcd-leader-crash.toml",
        include_str!("../../sim-scenarios/etcd-leader-crash.toml"),
    ),
    (
        "etcd-crash-loop",
        "sim-scenarios/etcd-crash-loop.toml",
        include_str!("../../sim-scenarios/etcd-crash-loop.toml"),
    ),
    (
        "etcd-lease-follower-stall",
        "sim-scenarios/etcd-lease-follower-stall.toml",
        include_str!("../../sim-scenarios/etcd-lease-follower-stall.toml"),
    ),
    (
        "etcd-lease-frozen-member",
        "sim-scenarios/etcd-lease-frozen-member.toml",
        include_str!("../../sim-scenarios/etcd-lease-frozen-member.toml"),
    ),
    (
        "etcd-lease-leader-stall",
        "sim-scenarios/etcd-lease-leader-stall.toml",
        include_str!("../../sim-scenarios/etcd-lease-leader-stall.toml"),
    ),
    (
        "etcd-lock-leader-stall",
        "sim-scenarios/etcd-lock-leader-stall.toml",
        include_str!("../../sim-scenarios/etcd-lock-leader-stall.toml"),
    ),
    (
        "raft-isolated-leader",
        "sim-scenarios/raft-isolated-leader.toml",
        include_str!("../../sim-scenarios/raft-isolated-leader.toml"),
    ),
    (
        "raft-rejoin-term-inflation",
        "sim-scenarios/raft-rejoin-term-inflation.toml",
        include_str!("../../sim-scenarios/raft-rejoin-term-inflation.toml"),
    ),
    (
        "raft-split-vote",
        "sim-scenarios/raft-split-vote.toml",
        include_str!("../../sim-scenarios/raft-split-vote.toml"),
    ),
    (
        "raft-one-way-link",
        "sim-scenarios/raft-one-way-link.toml",
        include_str!("../../sim-scenarios/raft-one-way-link.toml"),
    ),
    (
        "raft-figure-8",
        "sim-scenarios/raft-figure-8.toml",
        include_str!("../../sim-scenarios/raft-figure-8.toml"),
    ),
    (
        "raft-lease-read-clock-drift",
        "sim-scenarios/raft-lease-read-clock-drift.toml",
        include_str!("../../sim-scenarios/raft-lease-read-clock-drift.toml"),
    ),
    (
        "raft-snapshot-catch-up",
        "sim-scenarios/raft-snapshot-catch-up.toml",
        include_str!("../../sim-scenarios/raft-snapshot-catch-up.toml"),
    ),
    (
        "etcd-fsync-lies-power-loss",
        "sim-scenarios/etcd-fsync-lies-power-loss.toml",
        include_str!("../../sim-scenarios/etcd-fsync-lies-power-loss.toml"),
    ),
    (
        "etcd-replace-member",
        "sim-scenarios/etcd-replace-member.toml",
        include_str!("../../sim-scenarios/etcd-replace-member.toml"),
    ),
    (
        "etcd-learner-promote",
        "sim-scenarios/etcd-learner-promote.toml",
        include_str!("../../sim-scenarios/etcd-learner-promote.toml"),
    ),
    (
        "raft-grow-shrink",
        "sim-scenarios/raft-grow-shrink.toml",
        include_str!("../../sim-scenarios/raft-grow-shrink.toml"),
    ),
    (
        "raft-removed-member-disruption",
        "sim-scenarios/raft-removed-member-disruption.toml",
        include_str!("../../sim-scenarios/raft-removed-member-disruption.toml"),
    ),
];

/// The scenario `raftsim run` uses without a FILE.
pub const DEFAULT: &str = "k8s-local-etcd-follower-stall";

/// Finds a built-in scenario by name.
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    BUILTIN
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, t)| (*f, *t))
}

/// Loads a built-in scenario by name.
pub fn load(name: &str) -> Option<Result<super::Scenario, super::ScenarioError>> {
    load_with_overrides(name, &[])
}

/// Loads a built-in scenario by name with `--set` overrides.
pub fn load_with_overrides(
    name: &str,
    sets: &[(String, String)],
) -> Option<Result<super::Scenario, super::ScenarioError>> {
    find(name).map(|(file, text)| {
        super::Scenario::parse_with_overrides(text, file, sets).map(|mut s| {
            s.origin = super::Origin {
                source: super::Source::Builtin(name.to_string()),
                overrides: sets.to_vec(),
            };
            s
        })
    })
}
