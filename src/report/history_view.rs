//! A violating client history drawn as porcupine's visualiser draws it: one row per client,
//! each operation a bar from invoke to completion (an operation of unknown outcome runs to the
//! end), the longest linearizable prefix numbered in its order, and the operations none of which
//! can come next outlined in red. `raftsim check-history FILE --html OUT` writes it; a run whose
//! linearizability oracle fires shows it in its HTML page.

use super::picture::esc;
use crate::check::linearizability::{LinOp, Violation};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const LEFT: f64 = 90.0;
const WIDTH: f64 = 1100.0;
const ROW: f64 = 26.0;

/// The SVG of one violation.
pub fn svg(v: &Violation) -> String {
    let start = v.ops.iter().map(|o| o.invoke_us).min().unwrap_or(0);
    let end = v
        .ops
        .iter()
        .map(|o| o.complete_us.unwrap_or(o.invoke_us))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let span = (end - start) as f64 * 1.05;
    let x = |t: u64| LEFT + WIDTH * (t.saturating_sub(start) as f64 / span).min(1.0);
    let order: BTreeMap<String, usize> = v
        .ordered
        .iter()
        .enumerate()
        .map(|(i, o)| (key_of(o), i + 1))
        .collect();
    let stuck: Vec<String> = v.stuck.iter().map(key_of).collect();
    let Layout {
        placed,
        labels,
        rows: next_row,
    } = layout(&v.ops);
    let height = 50.0 + ROW * next_row as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="history" viewBox="0 0 {} {height}" width="{}" height="{height}" font-family="sans-serif" font-size="10">"#,
        LEFT + WIDTH + 20.0,
        LEFT + WIDTH + 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="8" y="16" font-size="13" font-weight="bold">key `{}`: {} operation(s) ordered (green, numbered), then none of the red ones can come next</text>"#,
        esc(&v.key),
        v.ordered.len()
    );
    for (row, c) in labels {
        let _ = writeln!(
            s,
            r#"<text x="8" y="{:.1}">client {c}</text>"#,
            30.0 + ROW * row as f64 + 15.0
        );
    }
    for (row, o) in placed {
        let y = 30.0 + ROW * row as f64;
        let k = key_of(o);
        let (x1, x2) = (x(o.invoke_us), o.complete_us.map_or(LEFT + WIDTH, x));
        let (fill, stroke, mark) = match (order.get(&k), stuck.contains(&k)) {
            (Some(n), _) => ("#9fd4ae", "#3c9d5d", format!("#{n}")),
            (None, true) => ("#f6c9cf", "#d1495b", "stuck".to_string()),
            (None, false) => ("#e4e4e4", "#999", String::new()),
        };
        let dash = if o.complete_us.is_none() {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="18" fill="{fill}" stroke="{stroke}"{dash}><title>{mark} {}</title></rect><text x="{:.1}" y="{:.1}">{mark}</text>"#,
            y + 3.0,
            (x2 - x1).max(2.0),
            esc(&describe(o)),
            x1 + 2.0,
            y + 16.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A page with the picture and the violation in words.
pub fn html(v: &Violation, name: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}: not linearizable</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>{}: not linearizable</h1>\n<p>Green: the longest order found, numbered. Red: operations none of which can come next. Grey: later operations. Dashed: unknown outcome (may have taken effect any time after its call, or never).</p>\n{}<pre>{}</pre>\n</body></html>\n",
        esc(name),
        esc(name),
        svg(v),
        esc(&v.to_string())
    )
}

/// Rows of the picture: each client's operations, stacked in sub-rows where they overlap (an
/// operation of unknown outcome runs to the end).
struct Layout<'a> {
    /// (row, operation).
    placed: Vec<(usize, &'a LinOp)>,
    /// (first row, client).
    labels: Vec<(usize, u64)>,
    /// Rows in all.
    rows: usize,
}

fn layout(ops: &[LinOp]) -> Layout<'_> {
    let mut clients: Vec<u64> = ops.iter().map(|o| o.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let mut l = Layout {
        placed: Vec::new(),
        labels: Vec::new(),
        rows: 0,
    };
    for c in clients {
        l.labels.push((l.rows, c));
        let mut free: Vec<u64> = Vec::new(); // when each sub-row is free again
        for o in ops.iter().filter(|o| o.client == c) {
            let sub = match free.iter().position(|f| *f <= o.invoke_us) {
                Some(i) => i,
                None => {
                    free.push(0);
                    free.len() - 1
                }
            };
            free[sub] = o.complete_us.unwrap_or(u64::MAX);
            l.placed.push((l.rows + sub, o));
        }
        l.rows += free.len().max(1);
    }
    l
}

fn key_of(o: &LinOp) -> String {
    format!("{}|{}|{:?}|{:?}", o.client, o.invoke_us, o.kind, o.result)
}

fn describe(o: &LinOp) -> String {
    let end = o
        .complete_us
        .map_or("unknown".to_string(), |c| format!("{c}us"));
    format!(
        "client {} [{}us, {end}] {:?} -> {:?}",
        o.client, o.invoke_us, o.kind, o.result
    )
}

#[cfg(test)]
mod tests {
    use crate::check::linearizability::{check, LinKind, LinOp, LinResult};

    #[test]
    fn a_stale_read_is_drawn_stuck_after_the_ordered_write() {
        let put = LinOp {
            client: 1,
            key: "k".into(),
            kind: LinKind::Put { value: "a".into() },
            result: Some(LinResult::Put { revision: 1 }),
            invoke_us: 0,
            complete_us: Some(10),
        };
        let stale = LinOp {
            client: 2,
            key: "k".into(),
            kind: LinKind::Get,
            result: Some(LinResult::Get {
                value: None,
                mod_revision: 0,
            }),
            invoke_us: 20,
            complete_us: Some(30),
        };
        let v = check(&[put, stale]).violation().expect("a stale read");
        let svg = super::svg(&v);
        assert!(svg.contains(">#1</text>"), "{svg}");
        assert!(svg.contains(">stuck</text>"), "{svg}");
        assert!(svg.contains("#d1495b"), "the stale read is outlined in red");
        assert!(super::html(&v, "h.jsonl").contains("not linearizable"));
    }
}
