//! The scenario a capacity step runs: the user's, held at the step's rate for the
//! step's length (a replay by its speed, looped).

use crate::plan::Plan;

use super::Options;

pub(super) fn load_step(text: &str, overrides: &[String], o: &Options, rate: f64) -> Result<Plan, String> {
    let mut sets = overrides.to_vec();
    sets.extend(rate_sets(text, overrides, &o.workload, rate)?);
    sets.push(format!("duration=\"{}ns\"", o.warmup_ns + o.step_ns));
    sets.push(format!("warmup=\"{}ns\"", o.warmup_ns));
    let scenario = crate::scenario::parse("capacity step", text, &sets).map_err(|e| e.to_string())?;
    Ok(Plan::from_scenario(&scenario))
}

/// The overrides that hold `workload` at `rate` for a step: a rate and no phases; for a
/// replay, the speed that makes its capture's mean rate `rate` (or its `rate`, when the
/// scenario scales it so), looped, since a step must hold the rate to its end.
fn rate_sets(text: &str, overrides: &[String], workload: &str, rate: f64) -> Result<Vec<String>, String> {
    let base = crate::scenario::parse("capacity step", text, overrides).map_err(|e| e.to_string())?;
    let replay = base
        .workloads()
        .find(|(n, _)| n.as_str() == workload)
        .map(|(_, w)| w)
        .filter(|w| w.kind == crate::scenario::WorkloadKind::Replay);
    Ok(match replay {
        Some(w) if w.speed().is_some() => {
            // The capture validation already read: no plan (and no replay table) built.
            let captured = base.checked.captures.get(workload).map_or(0.0, |c| c.mean_rate());
            if captured <= 0.0 {
                return Err(format!(
                    "workload `{workload}`: its capture spans no time, so no speed gives a rate"
                ));
            }
            vec![
                format!("workload.{workload}.speed={}", rate / captured),
                format!("workload.{workload}.loop=true"),
            ]
        }
        Some(_) => vec![
            format!("workload.{workload}.rate={rate}"),
            format!("workload.{workload}.loop=true"),
        ],
        None => vec![
            format!("workload.{workload}.rate={rate}"),
            format!("workload.{workload}.phase=[]"),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_step_is_held_at_its_rate_by_its_speed_and_looped() {
        // The shipped replay: 2,443 events over 19.9 s and a mean gap, about 122.7/s.
        let text = std::fs::read_to_string("scenarios/replay.toml").expect("scenario");
        let sets = rate_sets(&text, &[], "orders", 1000.0).expect("sets");
        assert_eq!(sets[1], "workload.orders.loop=true");
        let speed: f64 = sets[0]
            .strip_prefix("workload.orders.speed=")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{sets:?}"));
        assert!((speed - 1000.0 / 122.7).abs() < 0.05, "{speed}");
        let plain = rate_sets(
            "name='t'\nduration='1s'\n[workload.w]\nkind='produce'\nrate=1\n",
            &[],
            "w",
            5.0,
        );
        assert_eq!(plain.expect("sets"), ["workload.w.rate=5", "workload.w.phase=[]"]);
    }
}
