//! The `[data]` table's checks: aggregate ids, actions, payload sizes.

use toml::Spanned;

use super::span::{at, Fault};
use super::types::{Aggregates, Payload, Scenario};

const MAX_PAYLOAD: u64 = 16 << 20;

fn agg_id(at_value: &Spanned<Aggregates>, id: i64) -> Result<(), Fault> {
    if !(1..=127).contains(&id) {
        return Err(at(
            at_value,
            format!("aggregate id {id} is out of range: the models' aggregate ids are 1..=127 (0 means unset)"),
        ));
    }
    Ok(())
}

pub(super) fn check_data(s: &Scenario) -> Result<(), Fault> {
    let d = &s.data;
    let aggs = &d.aggregates;
    match aggs.get_ref() {
        Aggregates::Uniform { min, max } | Aggregates::Sequential { min, max } => {
            agg_id(aggs, *min)?;
            agg_id(aggs, *max)?;
            if min > max {
                return Err(at(aggs, "`max` must not be below `min`"));
            }
        }
        Aggregates::Zipf { exponent, max } => {
            agg_id(aggs, *max)?;
            if !(exponent.is_finite() && *exponent > 0.0) {
                return Err(at(aggs, "zipf `exponent` must be a positive number"));
            }
        }
        Aggregates::Hotspot { ids, fraction } => {
            if ids.is_empty() {
                return Err(at(aggs, "hotspot `ids` is empty"));
            }
            for id in ids {
                agg_id(aggs, *id)?;
            }
            if !(0.0..=1.0).contains(fraction) {
                return Err(at(aggs, "hotspot `fraction` must be between 0 and 1"));
            }
        }
    }
    let actions = d.actions.get_ref();
    if actions.is_empty() || actions.values().all(|w| *w == 0) || actions.keys().any(|k| k.is_empty()) {
        return Err(at(
            &d.actions,
            "`actions` needs at least one non-empty action name with a weight above 0",
        ));
    }
    if actions.values().map(|w| *w as u64).sum::<u64>() > u32::MAX as u64 {
        return Err(at(
            &d.actions,
            format!("`actions` weights must add up to at most {}", u32::MAX),
        ));
    }
    let too_big = |v: u64| v > MAX_PAYLOAD;
    let bad = match d.payload.get_ref() {
        Payload::Fixed { size } => too_big(size.0),
        Payload::Uniform { min, max } => min > max || too_big(max.0),
        Payload::Lognormal { median, p99 } => median > p99 || median.0 == 0 || too_big(p99.0),
        Payload::Histogram { sizes, weights } => {
            sizes.is_empty()
                || sizes.len() != weights.len()
                || weights.iter().all(|w| *w == 0)
                || weights.iter().map(|w| *w as u64).sum::<u64>() > u32::MAX as u64
                || sizes.iter().any(|s| too_big(s.0))
        }
    };
    if bad {
        return Err(at(
            &d.payload,
            "`payload` is inconsistent: sizes up to 16 MiB, min <= max, median <= p99, one weight per size, weights adding up to at most 4294967295",
        ));
    }
    let c = *d.compressibility.get_ref();
    if !(0.0..=1.0).contains(&c) {
        return Err(at(&d.compressibility, "`compressibility` must be between 0 and 1"));
    }
    if *d.users.get_ref() == 0 {
        return Err(at(&d.users, "`users` must be at least 1"));
    }
    Ok(())
}
