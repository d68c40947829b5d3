//! Typed, positioned access to the fields of one `[[expect]]` table. Every getter reports a
//! missing or ill-typed field as `file:line:column: message`; the table rejects fields its kind
//! does not read.

use super::super::ScenarioError;
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};
use serde_spanned::Spanned;
use std::collections::BTreeMap;

/// One `[[expect]]` table as written: field name -> value, both with their byte spans.
pub type RawExpect = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// Turns a byte offset of the scenario text into a positioned error.
pub(crate) trait ErrAt {
    fn err_at(&self, byte: usize, message: String) -> ScenarioError;
}

/// What validation of an expectation needs to know about the rest of the scenario.
pub(crate) struct Context<'a> {
    /// Members in the cluster.
    pub nodes: u64,
    /// The end of the run.
    pub end: SimTime,
    /// Command ids in the file.
    pub ids: &'a [String],
    /// Kubernetes node names (empty without a `[kubernetes]` table).
    pub k8s_nodes: &'a [String],
}

/// The fields of one `[[expect]]` table, read by its kind.
pub struct Fields<'a> {
    raw: &'a RawExpect,
    /// `check = "..."` as written, for messages.
    name: String,
    kind_at: usize,
    v: &'a dyn ErrAt,
    cx: &'a Context<'a>,
}

type R<T> = Result<T, ScenarioError>;

impl<'a> Fields<'a> {
    pub(crate) fn new(
        raw: &'a RawExpect,
        kind: &str,
        kind_at: usize,
        v: &'a dyn ErrAt,
        cx: &'a Context<'a>,
    ) -> Fields<'a> {
        Fields {
            raw,
            name: format!("check = \"{kind}\""),
            kind_at,
            v,
            cx,
        }
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<toml::Value>> {
        self.raw
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| v)
    }

    /// An error at the value of `key` (or at `check` when it is absent).
    pub fn err(&self, key: &str, message: String) -> ScenarioError {
        let at = self.get(key).map_or(self.kind_at, |v| v.span().start);
        self.v.err_at(at, message)
    }

    fn missing(&self, key: &str) -> ScenarioError {
        self.v
            .err_at(self.kind_at, format!("{} needs `{key}`", self.name))
    }

    fn typed<T>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&toml::Value) -> Option<T>,
    ) -> R<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v.get_ref())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("`{key}` must be {what}"))),
        }
    }

    pub(crate) fn required<T>(&self, key: &str, v: Option<T>) -> R<T> {
        v.ok_or_else(|| self.missing(key))
    }

    /// An optional string.
    pub fn string_opt(&self, key: &str) -> R<Option<String>> {
        self.typed(key, "a string", |v| v.as_str().map(str::to_string))
    }

    /// A required string.
    pub fn string(&self, key: &str) -> R<String> {
        let s = self.string_opt(key)?;
        self.required(key, s)
    }

    /// An optional boolean.
    pub fn bool_opt(&self, key: &str) -> R<Option<bool>> {
        self.typed(key, "true or false", toml::Value::as_bool)
    }

    /// A required boolean.
    pub fn bool(&self, key: &str) -> R<bool> {
        let b = self.bool_opt(key)?;
        self.required(key, b)
    }

    /// A required non-negative whole number.
    pub fn u64(&self, key: &str) -> R<u64> {
        let n = self.typed(key, "a whole number >= 0", |v| {
            v.as_integer().and_then(|i| u64::try_from(i).ok())
        })?;
        self.required(key, n)
    }

    /// An optional duration (`"5s"`, `"250ms"`).
    pub fn duration_opt(&self, key: &str) -> R<Option<SimDuration>> {
        let Some(text) = self.typed(key, "a duration such as \"5s\"", |v| {
            v.as_str().map(str::to_string)
        })?
        else {
            return Ok(None);
        };
        SimDuration::parse(&text)
            .map(Some)
            .map_err(|m| self.err(key, format!("`{key}`: {m}")))
    }

    /// A required duration.
    pub fn duration(&self, key: &str) -> R<SimDuration> {
        let d = self.duration_opt(key)?;
        self.required(key, d)
    }

    /// A required instant within the run.
    pub fn time(&self, key: &str) -> R<SimTime> {
        let t = SimTime::ZERO + self.duration(key)?;
        if t > self.cx.end {
            return Err(self.err(
                key,
                format!(
                    "{key} {t} is after the end of the run ({}); raise `duration` or move it",
                    self.cx.end
                ),
            ));
        }
        Ok(t)
    }

    /// `from` and `until`, with `until` after `from`.
    pub fn window(&self) -> R<(SimTime, SimTime)> {
        let (from, until) = (self.time("from")?, self.time("until")?);
        if until <= from {
            return Err(self.err(
                "until",
                format!("window ends ({until}) before it starts ({from})"),
            ));
        }
        Ok((from, until))
    }

    /// A required command id that some `[[command]]` has.
    pub fn command_id(&self, key: &str) -> R<String> {
        let id = self.string_opt(key)?.ok_or_else(|| {
            self.v.err_at(
                self.kind_at,
                format!("{} needs `{key}` (a command id)", self.name),
            )
        })?;
        if !self.cx.ids.contains(&id) {
            let mut known: Vec<&String> = self.cx.ids.iter().collect();
            known.dedup();
            return Err(self.err(
                key,
                format!("no command has id `{id}`; known ids: {known:?}"),
            ));
        }
        Ok(id)
    }

    fn member(&self, key: &str, v: i64) -> R<NodeId> {
        let n = self.cx.nodes;
        if v < 1 || v as u64 > n {
            return Err(self.err(
                key,
                format!("node {v} does not exist: this cluster has nodes 1..={n}"),
            ));
        }
        Ok(NodeId(v as u64))
    }

    /// A required member id.
    pub fn node(&self, key: &str) -> R<NodeId> {
        let v = self.typed(key, "a node id (a whole number)", toml::Value::as_integer)?;
        let v = self.required(key, v)?;
        self.member(key, v)
    }

    /// An optional list of distinct member ids.
    pub fn nodes_opt(&self, key: &str) -> R<Option<Vec<NodeId>>> {
        let Some(list) = self.typed(key, "a list of node ids", |v| {
            v.as_array()?
                .iter()
                .map(toml::Value::as_integer)
                .collect::<Option<Vec<_>>>()
        })?
        else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for v in list {
            let id = self.member(key, v)?;
            if out.contains(&id) {
                return Err(self.err(key, format!("node {v} is listed twice")));
            }
            out.push(id);
        }
        Ok(Some(out))
    }

    /// A required, non-empty list of Kubernetes node names that exist.
    pub fn k8s_nodes(&self, key: &str) -> R<Vec<String>> {
        let list = self.typed(key, "a list of Kubernetes node names", |v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })?;
        let list = list.ok_or_else(|| {
            self.v.err_at(
                self.kind_at,
                format!("{} needs `{key}` (Kubernetes node names)", self.name),
            )
        })?;
        self.need_kubernetes(key)?;
        if list.is_empty() {
            return Err(self.err(key, format!("{key} must list at least one node")));
        }
        for x in &list {
            if !self.cx.k8s_nodes.contains(x) {
                return Err(self.err(
                    key,
                    format!(
                        "no node named `{x}`; nodes are {}",
                        self.cx.k8s_nodes.join(", ")
                    ),
                ));
            }
        }
        Ok(list)
    }

    /// Fails unless the scenario has a `[kubernetes]` table.
    pub fn need_kubernetes(&self, key: &str) -> R<()> {
        if self.cx.k8s_nodes.is_empty() {
            return Err(self.err(key, format!("{} needs a [kubernetes] table", self.name)));
        }
        Ok(())
    }

    /// One of `allowed`, if present.
    pub fn choice_opt(&self, key: &str, allowed: &[&'static str]) -> R<Option<&'static str>> {
        let Some(s) = self.string_opt(key)? else {
            return Ok(None);
        };
        allowed
            .iter()
            .find(|a| **a == s)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                self.err(
                    key,
                    format!("`{key}` = {s:?} is not one of: {}", allowed.join(", ")),
                )
            })
    }

    /// One of `allowed`, required.
    pub fn choice(&self, key: &str, allowed: &[&'static str]) -> R<&'static str> {
        let c = self.choice_opt(key, allowed)?;
        c.ok_or_else(|| {
            let msg = format!(
                "{} needs `{key}`, one of: {}",
                self.name,
                allowed.join(", ")
            );
            self.v.err_at(self.kind_at, msg)
        })
    }

    /// The number of members (for bounds).
    pub fn members(&self) -> u64 {
        self.cx.nodes
    }

    /// Whether the table has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Rejects fields the kind does not read.
    pub(crate) fn only(&self, allowed: &[&str]) -> R<()> {
        for (k, _) in self.raw.iter() {
            let k_name = k.get_ref().as_str();
            if k_name == "check" || k_name == "why" || allowed.contains(&k_name) {
                continue;
            }
            let mut fields = vec!["check", "why"];
            fields.extend_from_slice(allowed);
            return Err(self.v.err_at(
                k.span().start,
                format!(
                    "`{k_name}` does not apply to {}; its fields are: {}",
                    self.name,
                    fields.join(", ")
                ),
            ));
        }
        Ok(())
    }
}
