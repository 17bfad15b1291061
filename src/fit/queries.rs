//! A query topic beside the events (`fit --query-topic`): how many EventStoreQuery
//! records came, and how soon each followed the last event of its aggregate. The rate
//! becomes a `query` workload through the log; the delay is said in the header, not
//! reproduced (eventbench's readers query on a schedule, not in reply to events).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{scan, FitError, Observed, Source};

/// The query topic's window.
#[derive(Debug, Clone, Default)]
pub struct Queries {
    pub topic: String,
    /// (record timestamp ms, aggregate), in time order.
    pub seen: Vec<(i64, i8)>,
    pub skipped: BTreeMap<String, u64>,
}

/// Reads the query topic's window (the events' source with its topic).
pub fn read(src: &Source) -> Result<Queries, FitError> {
    let mut q = Queries {
        topic: src.topic.clone(),
        ..Queries::default()
    };
    scan(src, &mut q.skipped, |bytes, ts_ms| {
        use crate::model::{EventStoreQuery211, Strictness};
        // Either form: the seed's, or v2.1.1's with a correlation id and year.
        let e =
            EventStoreQuery211::decode(bytes, Strictness::Strict).map_err(|_| "not an EventStoreQuery".to_string())?;
        if e.aggregate_id == 0 {
            return Err("an EventStoreQuery of aggregate 0".into());
        }
        q.seen.push((ts_ms, e.aggregate_id));
        Ok(())
    })?;
    q.seen.sort_by_key(|s| s.0);
    if q.seen.is_empty() {
        return Err(FitError::Nothing(format!(
            "no EventStoreQuery records in the window of {} ({} skipped: {})",
            src.topic,
            q.skipped.values().sum::<u64>(),
            q.skipped
                .iter()
                .map(|(w, n)| format!("{n} {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(q)
}

/// How soon queries followed their aggregate's last event.
#[derive(Debug, Clone, PartialEq)]
pub struct Follow {
    /// Delays in ms at p50, p90, p99 (of the queries with an event before them).
    pub quantiles_ms: [i64; 3],
    /// Queries with no event of their aggregate before them in the window.
    pub before_any: u64,
}

/// For each query, the time since the last event of its aggregate at or before it.
pub fn follow(events: &[Observed], queries: &[(i64, i8)]) -> Option<Follow> {
    let mut last: BTreeMap<i64, i64> = BTreeMap::new();
    let (mut delays, mut before_any, mut e) = (Vec::new(), 0, 0);
    for &(t, a) in queries {
        while e < events.len() && events[e].ts_ms <= t {
            last.insert(events[e].aggregate_id, events[e].ts_ms);
            e += 1;
        }
        match last.get(&(a as i64)) {
            Some(at) => delays.push(t - at),
            None => before_any += 1,
        }
    }
    delays.sort_unstable();
    let q = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize];
    (!delays.is_empty()).then(|| Follow {
        quantiles_ms: [q(0.5), q(0.9), q(0.99)],
        before_any,
    })
}

/// The readers' header lines and workload: their mean rate over the events' window
/// (`span_s`), as a steady phase of that length.
pub fn readers(o: &mut String, header: &mut String, q: &Queries, events: &[Observed], span_s: f64) {
    let (first, last) = (events[0].ts_ms, events[events.len() - 1].ts_ms);
    let inside = q.seen.iter().filter(|(t, _)| *t >= first && *t <= last).count();
    let rate = inside as f64 / span_s.max(1e-3);
    let skipped: u64 = q.skipped.values().sum();
    let _ = writeln!(
        header,
        "# queries: topic {:?}, {} EventStoreQuery records ({skipped} skipped), {inside} inside the events' window: {rate:.2}/s, {:.3} per event",
        q.topic,
        q.seen.len(),
        inside as f64 / events.len() as f64
    );
    let _ = match follow(events, &q.seen) {
        Some(f) => writeln!(
            header,
            "# queries follow their aggregate's last event by p50 {} ms, p90 {} ms, p99 {} ms ({} before any event of theirs); the readers below query at that rate, not in reply to events",
            f.quantiles_ms[0], f.quantiles_ms[1], f.quantiles_ms[2], f.before_any
        ),
        None => writeln!(header, "# queries: none follows an event of its aggregate in the window"),
    };
    if inside == 0 {
        return;
    }
    let _ = writeln!(
        o,
        "\n[workload.readers]\nkind = \"query\"\nvia = \"log\"\narrival = \"poisson\"\nmax_in_flight = 256\nphase = [{{ kind = \"steady\", duration = \"{}ms\", rate = {:.2} }}]",
        (span_s * 1000.0).round() as u64,
        rate.max(0.01)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts_ms: i64, aggregate_id: i64) -> Observed {
        Observed {
            ts_ms,
            aggregate_id,
            size: 0,
            zeros: 0,
            action: String::new(),
            user: 0,
        }
    }

    #[test]
    fn each_query_follows_its_own_aggregate_s_last_event() {
        let events = [event(0, 1), event(10, 2), event(50, 1)];
        // Aggregate 1 at 5 (5 after 0), 2 at 30 (20 after 10), 1 at 60 (10 after 50), 3 never.
        let f = follow(&events, &[(5, 1), (30, 2), (60, 1), (70, 3)]).expect("some follow");
        assert_eq!(f.quantiles_ms, [10, 20, 20]);
        assert_eq!(f.before_any, 1);
        assert_eq!(follow(&events, &[(70, 3)]), None);
    }
}
