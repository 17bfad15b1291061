//! The scenario loader on any text with any `--set` overrides: the input is the file's
//! text, then, after a line `%%`, one override per line. It never panics, and a refusal
//! names where: the file (with line and column when the file itself is at fault) or the
//! override.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(all) = std::str::from_utf8(data) else {
        return;
    };
    let (text, sets) = all.split_once("\n%%\n").unwrap_or((all, ""));
    let overrides: Vec<String> = sets.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
    match eventbench::scenario::parse("fuzz.toml", text, &overrides) {
        Ok(s) => {
            // A scenario that loads makes a plan, and its secrets can be found.
            let _ = eventbench::plan::Plan::from_scenario(&s);
            let _ = eventbench::scenario::secrets::Secrets::of(text, &overrides).text(text);
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.contains("fuzz.toml") || shown.contains("--set"),
                "an error that names neither the file nor the override: {shown}"
            );
        }
    }
});
