//! The lessons in `docs/lessons/`, compiled in so `raftsim lessons` and `raftsim lesson NAME`
//! work from any directory.
//!
//! A lesson is a Markdown page with a fixed shape: a `# title` line, then a `- scenario:` list
//! item naming a built-in scenario and a `- question:` item (what to predict before running), the
//! commands in `sh` blocks each followed by a `text` block that quotes their output
//! (`tests/lessons.rs` runs every command and checks every quoted line, so the docs cannot rot),
//! and the answer folded in a `<details>` element.

/// (name, Markdown), in the order `raftsim lessons` shows them.
pub const LESSONS: &[(&str, &str)] = &[
    (
        "follower-fsync-stall",
        include_str!("../../docs/lessons/follower-fsync-stall.md"),
    ),
    (
        "leader-fsync-stall-two-leaders",
        include_str!("../../docs/lessons/leader-fsync-stall-two-leaders.md"),
    ),
    (
        "timed-out-write-applied-later",
        include_str!("../../docs/lessons/timed-out-write-applied-later.md"),
    ),
    (
        "frozen-vs-stalled-member",
        include_str!("../../docs/lessons/frozen-vs-stalled-member.md"),
    ),
    (
        "apiserver-pinned-to-local-etcd",
        include_str!("../../docs/lessons/apiserver-pinned-to-local-etcd.md"),
    ),
    (
        "lease-through-a-stalled-follower",
        include_str!("../../docs/lessons/lease-through-a-stalled-follower.md"),
    ),
    (
        "lease-split-brain",
        include_str!("../../docs/lessons/lease-split-brain.md"),
    ),
    (
        "isolated-leader-without-check-quorum",
        include_str!("../../docs/lessons/isolated-leader-without-check-quorum.md"),
    ),
    (
        "rejoin-term-inflation",
        include_str!("../../docs/lessons/rejoin-term-inflation.md"),
    ),
    (
        "lease-expires-on-a-frozen-member",
        include_str!("../../docs/lessons/lease-expires-on-a-frozen-member.md"),
    ),
    (
        "leader-crash",
        include_str!("../../docs/lessons/leader-crash.md"),
    ),
    (
        "crash-loop-unknown-outcomes",
        include_str!("../../docs/lessons/crash-loop-unknown-outcomes.md"),
    ),
    (
        "split-vote",
        include_str!("../../docs/lessons/split-vote.md"),
    ),
    (
        "one-way-link",
        include_str!("../../docs/lessons/one-way-link.md"),
    ),
    ("figure-8", include_str!("../../docs/lessons/figure-8.md")),
    (
        "lease-read-clock-drift",
        include_str!("../../docs/lessons/lease-read-clock-drift.md"),
    ),
    (
        "snapshot-catch-up",
        include_str!("../../docs/lessons/snapshot-catch-up.md"),
    ),
    (
        "fsync-that-lies",
        include_str!("../../docs/lessons/fsync-that-lies.md"),
    ),
    (
        "removed-member",
        include_str!("../../docs/lessons/removed-member.md"),
    ),
];

/// A lesson's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// Its name (`raftsim lesson NAME`).
    pub name: &'static str,
    /// Its title.
    pub title: String,
    /// The built-in scenario it runs.
    pub scenario: String,
    /// What to predict before running.
    pub question: String,
    /// The answer (the folded `<details>` section, without its tags).
    pub answer: String,
}

/// Parses a lesson page; `None` when it lacks a title, a scenario or a question.
pub fn parse(name: &'static str, md: &str) -> Option<Lesson> {
    let title = md.lines().find_map(|l| l.strip_prefix("# "))?.to_string();
    let item = |key: &str| {
        md.lines()
            .find_map(|l| l.strip_prefix(&format!("- {key}: ")))
            .map(|v| v.trim().trim_matches('`').to_string())
    };
    let answer = md
        .split_once("<details>")
        .and_then(|(_, rest)| rest.split_once("</details>"))
        .map(|(a, _)| {
            a.lines()
                .filter(|l| !l.contains("<summary>"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Some(Lesson {
        name,
        title,
        scenario: item("scenario")?,
        question: item("question")?,
        answer: answer.trim().to_string(),
    })
}

/// Every lesson, parsed.
pub fn all() -> Vec<Lesson> {
    LESSONS
        .iter()
        .map(|(n, md)| {
            parse(n, md).unwrap_or_else(|| {
                panic!("docs/lessons/{n}.md lacks its title, scenario or question")
            })
        })
        .collect()
}

/// The lesson called `name`, or the names that exist.
pub fn find(name: &str) -> Result<Lesson, String> {
    all().into_iter().find(|l| l.name == name).ok_or_else(|| {
        let names: Vec<&str> = LESSONS.iter().map(|l| l.0).collect();
        format!(
            "no lesson is named `{name}`; the lessons are: {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_lesson_parses_and_runs_a_built_in_scenario() {
        for l in super::all() {
            assert!(
                crate::scenario::builtin::find(&l.scenario).is_some(),
                "{}: {}",
                l.name,
                l.scenario
            );
            assert!(l.question.ends_with('?'), "{}: {}", l.name, l.question);
            assert!(!l.answer.is_empty(), "{}: no <details> answer", l.name);
        }
    }
}
