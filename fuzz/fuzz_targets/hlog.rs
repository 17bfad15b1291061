//! The interval-log reader (HdrHistogram 1.3 text, ours or any writer's) on any text:
//! never a panic, and never more memory than the libFuzzer limit however large a
//! histogram a line claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(intervals) = eventbench::stats::hlog::parse(text) {
            let _ = eventbench::stats::hlog::tags_warmup(&intervals);
        }
    }
});
