//! Jepsen histories, for `check-history`: the EDN `history.edn` a Jepsen test writes, and the
//! `jepsen.util` log lines (`INFO  jepsen.util - 3 :invoke :cas [1 4]`) older tests and
//! porcupine's test data use. Both describe a register (`:read`, `:write`, `:cas [old new]`), or
//! one register per key when values are `jepsen.independent` tuples `[key value]`.
//!
//! Jepsen's meaning of each completion is kept: `:ok` happened with that result; `:fail`
//! definitely did not happen (the operation is dropped); `:info` may or may not have happened
//! (its outcome is unknown). Jepsen histories carry no revisions, so every revision is 0 and the
//! model compares values only. Times: EDN `:time` when present (nanoseconds), else the order of
//! the lines; only the order matters to linearizability.

use super::history::{History, HistoryError};
use super::linearizability::{LinKind, LinOp, LinResult};
use crate::node::kv::Compare;
use std::collections::BTreeMap;

/// An EDN value (the subset Jepsen histories use).
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// A symbol or any other bare word.
    Symbol(String),
    /// A vector `[...]` or list `(...)`.
    Seq(Vec<Edn>),
    /// A map `{...}`, in order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(x) if x == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as a register value (`None` for nil).
    fn as_value(&self) -> Option<String> {
        match self {
            Edn::Nil => None,
            Edn::Int(i) => Some(i.to_string()),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Some(s.clone()),
            Edn::Bool(b) => Some(b.to_string()),
            other => Some(format!("{other:?}")),
        }
    }
}

/// Reads one EDN value from the start of `text`; returns it and the rest.
pub fn read_edn(text: &str) -> Result<(Edn, &str), String> {
    let t = skip_blank(text);
    let Some(c) = t.chars().next() else {
        return Err("expected a value, found the end of the line".into());
    };
    match c {
        '[' | '(' => {
            let close = if c == '[' { ']' } else { ')' };
            let (items, rest) = read_until(&t[1..], close)?;
            Ok((Edn::Seq(items), rest))
        }
        '{' => {
            let (items, rest) = read_until(&t[1..], '}')?;
            if items.len() % 2 != 0 {
                return Err("a map needs an even number of forms".into());
            }
            let mut it = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Ok((Edn::Map(pairs), rest))
        }
        '"' => read_string(&t[1..]),
        '#' => {
            // A tagged value (#jepsen.independent.Tuple{...}, #{set}): read the tag, keep the value.
            let after = &t[1..];
            let after = if after.starts_with('{') {
                after
            } else {
                skip_word(after).1
            };
            read_edn(after)
        }
        _ => {
            let (word, rest) = skip_word(t);
            Ok((word_value(word), rest))
        }
    }
}

fn skip_blank(t: &str) -> &str {
    t.trim_start_matches(|c: char| c.is_whitespace() || c == ',')
}

fn skip_word(t: &str) -> (&str, &str) {
    let end = t
        .find(|c: char| c.is_whitespace() || ",[](){}\"".contains(c))
        .unwrap_or(t.len());
    (&t[..end], &t[end..])
}

fn word_value(w: &str) -> Edn {
    match w {
        "nil" => Edn::Nil,
        "true" => Edn::Bool(true),
        "false" => Edn::Bool(false),
        _ if w.starts_with(':') => Edn::Keyword(w[1..].to_string()),
        _ => w
            .parse()
            .map_or_else(|_| Edn::Symbol(w.to_string()), Edn::Int),
    }
}

fn read_until(mut t: &str, close: char) -> Result<(Vec<Edn>, &str), String> {
    let mut items = Vec::new();
    loop {
        t = skip_blank(t);
        match t.chars().next() {
            None => return Err(format!("`{close}` expected before the end of the line")),
            Some(c) if c == close => return Ok((items, &t[1..])),
            Some(_) => {
                let (v, rest) = read_edn(t)?;
                items.push(v);
                t = rest;
            }
        }
    }
}

fn read_string(t: &str) -> Result<(Edn, &str), String> {
    let mut out = String::new();
    let mut chars = t.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Edn::Str(out), &t[i + 1..])),
            '\\' => out.push(chars.next().map_or('\\', |(_, c)| c)),
            c => out.push(c),
        }
    }
    Err("a string is not closed".into())
}

/// One Jepsen event: a process invoking or completing a function.
struct Event {
    process: String,
    kind: String,
    f: String,
    value: Edn,
    time: u64,
    line: usize,
}

/// Parses a Jepsen `history.edn` (one map per line, or one vector of maps).
pub fn parse_edn(text: &str, file: &str) -> Result<History, HistoryError> {
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        if line.is_empty() {
            continue;
        }
        let err = |m: String| error(file, i + 1, m);
        let (v, _) = read_edn(line).map_err(err)?;
        let field = |k: &str| v.get(k).cloned().unwrap_or(Edn::Nil);
        let word = |k: &str| match field(k) {
            Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Some(s),
            Edn::Int(n) => Some(n.to_string()),
            _ => None,
        };
        let (Some(process), Some(kind), Some(f)) = (word("process"), word("type"), word("f"))
        else {
            return Err(err("an event needs :process, :type and :f".into()));
        };
        let time = match field("time") {
            Edn::Int(t) if t >= 0 => t as u64,
            _ => events.len() as u64,
        };
        events.push(Event {
            process,
            kind,
            f,
            value: field("value"),
            time,
            line: i + 1,
        });
    }
    to_history(events, file)
}

/// Parses `jepsen.util` log lines: `... jepsen.util - PROCESS TYPE F VALUE` (tab- or
/// space-separated); other lines are skipped.
pub fn parse_log(text: &str, file: &str) -> Result<History, HistoryError> {
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let Some((_, rest)) = raw.split_once("jepsen.util - ") else {
            continue;
        };
        let err = |m: String| error(file, i + 1, m);
        let (fields, value) = words(rest, 3);
        let [process, kind, f] = fields[..] else {
            return Err(err("expected PROCESS :TYPE :F VALUE".into()));
        };
        let value = match value.trim() {
            "" => Edn::Nil,
            v => read_edn(v).map_err(err)?.0,
        };
        let strip = |s: &str| s.trim_start_matches(':').to_string();
        let time = events.len() as u64;
        events.push(Event {
            process: strip(process),
            kind: strip(kind),
            f: strip(f),
            value,
            time,
            line: i + 1,
        });
    }
    to_history(events, file)
}

/// The first `n` whitespace-separated words of `text`, and what follows them.
fn words(text: &str, n: usize) -> (Vec<&str>, &str) {
    let mut rest = text;
    let mut out = Vec::new();
    while out.len() < n {
        let t = rest.trim_start();
        if t.is_empty() {
            break;
        }
        let end = t.find(char::is_whitespace).unwrap_or(t.len());
        out.push(&t[..end]);
        rest = &t[end..];
    }
    (out, rest)
}

fn error(file: &str, line: usize, message: String) -> HistoryError {
    HistoryError {
        file: file.to_string(),
        line,
        column: 1,
        message,
    }
}

/// Pairs each process's invocation with its completion and turns the pairs into operations.
fn to_history(events: Vec<Event>, file: &str) -> Result<History, HistoryError> {
    let mut open: BTreeMap<String, Event> = BTreeMap::new();
    let mut h = History::default();
    let clients: BTreeMap<String, u64> = events
        .iter()
        .map(|e| e.process.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .zip(1..)
        .collect();
    for e in events {
        if e.process == "nemesis" {
            continue; // faults, not client operations
        }
        let line = e.line;
        let err = |m: String| error(file, line, m);
        match e.kind.as_str() {
            "invoke" => {
                if open.insert(e.process.clone(), e).is_some() {
                    return Err(err(
                        "this process invoked again before its operation completed".into(),
                    ));
                }
            }
            "ok" | "fail" | "info" => {
                let inv = open
                    .remove(&e.process)
                    .ok_or_else(|| err(format!("a :{} with no :invoke before it", e.kind)))?;
                if let Some(op) = operation(&inv, &e, clients[&e.process]).map_err(err)? {
                    h.ops.push(op);
                }
            }
            other => {
                return Err(err(format!(
                    "unknown :type :{other}: allowed :invoke, :ok, :fail, :info"
                )))
            }
        }
    }
    // Still open at the end: unknown outcome, like :info.
    for (p, inv) in open {
        let info = Event {
            process: p.clone(),
            kind: "info".into(),
            f: inv.f.clone(),
            value: Edn::Nil,
            time: u64::MAX,
            line: inv.line,
        };
        if let Some(op) =
            operation(&inv, &info, clients[&p]).map_err(|m| error(file, inv.line, m))?
        {
            h.ops.push(op);
        }
    }
    Ok(h)
}

/// The key and the register value of an independent tuple `[key value]`.
fn keyed(v: &Edn) -> (String, Edn) {
    match v {
        Edn::Seq(items) if items.len() == 2 => {
            (items[0].as_value().unwrap_or_default(), items[1].clone())
        }
        other => ("register".into(), other.clone()),
    }
}

/// Whether an invocation's value is an independent tuple: `[key value]`, and for `:cas`
/// `[key [old new]]` (a plain register's `:cas` is `[old new]`).
fn is_independent(f: &str, v: &Edn) -> bool {
    match v {
        Edn::Seq(items) if items.len() == 2 => f != "cas" || matches!(items[1], Edn::Seq(_)),
        _ => false,
    }
}

/// One operation from its invocation and completion; `None` for a `:fail` (it did not happen)
/// and for a read whose outcome is unknown (it tells nothing).
fn operation(inv: &Event, done: &Event, client: u64) -> Result<Option<LinOp>, String> {
    if done.kind == "fail" {
        return Ok(None);
    }
    let known = done.kind == "ok";
    let independent = is_independent(&inv.f, &inv.value);
    let (key, arg) = if independent {
        keyed(&inv.value)
    } else {
        ("register".into(), inv.value.clone())
    };
    let result_value = if independent {
        keyed(&done.value).1
    } else {
        done.value.clone()
    };
    let (kind, result) = match inv.f.as_str() {
        "read" if !known => return Ok(None),
        "read" => (
            LinKind::Get,
            Some(LinResult::Get {
                value: result_value.as_value(),
                mod_revision: 0,
            }),
        ),
        "write" => {
            let value = arg.as_value().ok_or("a :write needs a value")?;
            (
                LinKind::Put { value },
                known.then_some(LinResult::Put { revision: 0 }),
            )
        }
        "cas" => {
            let Edn::Seq(pair) = &arg else {
                return Err(":cas needs [old new]".into());
            };
            let (Some(old), Some(new)) = (
                pair.first().and_then(Edn::as_value),
                pair.get(1).and_then(Edn::as_value),
            ) else {
                return Err(":cas needs [old new]".into());
            };
            let kind = LinKind::Txn {
                compare: Compare::Value(old),
                then_put: new,
            };
            (
                kind,
                known.then_some(LinResult::Txn {
                    succeeded: true,
                    revision: 0,
                }),
            )
        }
        f => return Err(format!("unknown :f :{f}: allowed :read, :write, :cas")),
    };
    Ok(Some(LinOp {
        client,
        key,
        kind,
        result,
        invoke_us: inv.time,
        complete_us: known.then_some(done.time),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::linearizability::check;

    #[test]
    fn reads_edn_values() {
        let (v, rest) =
            read_edn("{:type :ok, :f :cas, :value [1 4], :process 3, :time 12} x").unwrap();
        assert_eq!(rest.trim(), "x");
        assert_eq!(
            v.get("value"),
            Some(&Edn::Seq(vec![Edn::Int(1), Edn::Int(4)]))
        );
        assert_eq!(v.get("type"), Some(&Edn::Keyword("ok".into())));
        assert!(read_edn("[1 2").is_err());
        assert_eq!(read_edn("\"a\\\"b\"").unwrap().0, Edn::Str("a\"b".into()));
    }

    const LOG: &str = "INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:cas\t[1 4]
INFO  jepsen.util - 2\t:ok\t:read\t4
INFO  jepsen.util - 0\t:invoke\t:write\t2
INFO  jepsen.util - 0\t:info\t:write\t2
INFO  jepsen.util - 2\t:invoke\t:cas\t[3 5]
INFO  jepsen.util - 2\t:fail\t:cas\t[3 5]";

    #[test]
    fn log_lines_keep_jepsens_meaning() {
        let h = parse_log(LOG, "j.log").unwrap();
        // write ok, cas ok, read ok, write info (unknown); the failed cas did not happen.
        assert_eq!(h.ops.len(), 4);
        assert_eq!(h.ops.iter().filter(|o| o.complete_us.is_none()).count(), 1);
        assert!(check(&h.ops).is_linearizable());
        let stale = format!("{LOG}\nINFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:ok\t:read\t1");
        let h = parse_log(&stale, "j.log").unwrap();
        assert!(
            check(&h.ops).violation().is_some(),
            "a read of 1 after the cas to 4 completed"
        );
    }

    #[test]
    fn edn_histories_and_independent_keys() {
        let edn = "{:type :invoke, :f :write, :value [\"a\" 1], :process 0, :time 1}
{:type :ok, :f :write, :value [\"a\" 1], :process 0, :time 2}
{:type :invoke, :f :read, :value [\"b\" nil], :process 1, :time 3}
{:type :ok, :f :read, :value [\"b\" nil], :process 1, :time 4}
{:type :invoke, :f :read, :value [\"a\" nil], :process 1, :time 5}
{:type :ok, :f :read, :value [\"a\" 1], :process 1, :time 6}";
        let h = parse_edn(edn, "history.edn").unwrap();
        let keys: std::collections::BTreeSet<&str> = h.ops.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"].into_iter().collect());
        assert!(check(&h.ops).is_linearizable());
        let e = parse_edn("{:type :ok, :f :read}", "h.edn").unwrap_err();
        assert!(e.to_string().starts_with("h.edn:1:1:"), "{e}");
    }
}
