//! The codec checked against Go: every input, Go's verdict and bytes against ours.
//!
//!   cargo run --release --example differential -- ORACLE [--inputs N] [--seed S] [--corpus DIR]...
//!
//! ORACLE is the Go program built from `tests/golden/gen` (`scripts/setup` builds it as
//! `.cache/bin/go-oracle`), the seed models' struct definitions decoded with Go's own
//! `encoding/json`. The driver sends it structured random inputs of the four seed types
//! (every field's edge cases: integer bounds and their neighbours, numbers Go refuses for
//! an integer, `null`s, nil and empty `[]byte`, base64 with and without padding or with
//! newlines, RFC 3339 times with offsets and fractions, escapes, lone surrogates, invalid
//! UTF-8, duplicate keys, keys matched case-insensitively, Unicode folds such as the long
//! s and the Kelvin sign), random mutations of them, and the files of any corpus
//! directory (a fuzz corpus: first byte the type, the rest the input). For each input it
//! requires eventbench to agree with Go on lenient acceptance (`json.Unmarshal`), strict
//! acceptance (`DisallowUnknownFields`) and, when accepted, the re-encoded bytes.
//! Disagreements are printed (the first 20) and the exit code is 1.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use eventbench::model::{Event, EventMeta, EventStoreQuery, KafkaResponse, Strictness};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const KINDS: [&str; 4] = ["event", "meta", "query", "response"];

#[derive(Clone, Copy)]
enum Field {
    Str,
    Uuid,
    I8,
    I16,
    I64,
    Bytes,
    Time,
}

fn fields(kind: u8) -> &'static [(&'static str, Field)] {
    match kind {
        0 => &[
            ("action", Field::Str),
            ("correlation_id", Field::Uuid),
            ("aggregate_id", Field::I8),
            ("data", Field::Bytes),
            ("timestamp", Field::Time),
            ("user_uuid", Field::Uuid),
            ("uuid", Field::Uuid),
            ("version", Field::I64),
            ("year_bucket", Field::I16),
        ],
        1 => &[
            ("aggregate_version", Field::I64),
            ("aggregate_id", Field::I8),
            ("partition_key", Field::I8),
        ],
        2 => &[("aggregate_id", Field::I8), ("aggregate_version", Field::I64)],
        _ => &[
            ("aggregate_id", Field::I8),
            ("correlation_id", Field::Uuid),
            ("input", Field::Bytes),
            ("error", Field::Str),
            ("result", Field::Bytes),
        ],
    }
}

fn pick<'a>(rng: &mut SmallRng, v: &[&'a str]) -> &'a str {
    v[rng.random_range(0..v.len())]
}

fn int_value(rng: &mut SmallRng, bits: u32) -> String {
    let (min, max) = match bits {
        8 => (i8::MIN as i128, i8::MAX as i128),
        16 => (i16::MIN as i128, i16::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    };
    match rng.random_range(0..14) {
        0 => min.to_string(),
        1 => max.to_string(),
        2 => (min - 1).to_string(),
        3 => (max + 1).to_string(),
        4 => "-0".into(),
        5 => pick(
            rng,
            &[
                "1.0", "1e1", "1E2", "0.5", "-1.5e-3", "1e400", "00", "01", "+1", ".5", "0x10", "1_0",
            ],
        )
        .into(),
        6 => pick(rng, &["\"5\"", "true", "false", "[]", "{}", "[1]", "\"\"", "-"]).into(),
        7 => "null".into(),
        8 => format!("{}", rng.random_range(min..=max)),
        9 => format!("{}{}", max, rng.random_range(0..10)),
        _ => format!("{}", rng.random_range(-300i64..300)),
    }
}

fn str_value(rng: &mut SmallRng) -> Vec<u8> {
    let piece: &[u8] = match rng.random_range(0..16) {
        0 => b"",
        1 => b"register_user",
        2 => b"\\u0000\\u001f\\u007f",
        3 => b"\\ud83d\\ude00",
        4 => b"\\ud800",
        5 => b"\\udc00x",
        6 => b"\xff\xfe",
        7 => b"\xe2\x80\xa8\xe2\x80\xa9",
        8 => b"<a href='x'>&amp;</a>",
        9 => b"\\/\\b\\f\\n\\r\\t\\\"\\\\",
        10 => b"\x01",
        11 => b"\\x41",
        12 => b"\xc3\xa9\xf0\x9f\x98\x80",
        13 => b"\xed\xa0\x80",
        14 => b"\\u00e9\\uD83D\\uDE00",
        _ => b"\xc0\xaf",
    };
    let mut v = b"\"".to_vec();
    v.extend_from_slice(piece);
    if rng.random_bool(0.3) {
        v.extend_from_slice(pick(rng, &["a", " ", "\\u0041", "\u{1F600}"]).as_bytes());
    }
    v.push(b'"');
    v
}

fn uuid_value(rng: &mut SmallRng) -> String {
    pick(
        rng,
        &[
            "\"7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f\"",
            "\"00000000-0000-0000-0000-000000000000\"",
            "\"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE\"",
            "\"{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}\"",
            "\"urn:uuid:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
            "\"aaaaaaaabbbb4ccc8dddeeeeeeeeeeee\"",
            "\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeee\"",
            "\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeeee\"",
            "\"gaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
            "\"aaaaaaaa+bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
            "\"{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
            "\"urn:uuid:aaaaaaaabbbb4ccc8dddeeeeeeeeeeee\"",
            "\"URN:UUID:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
            "\"\"",
            "\"not-a-uuid\"",
            "null",
            "5",
            "[]",
            "\"\\u0061aaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"",
        ],
    )
    .into()
}

fn bytes_value(rng: &mut SmallRng) -> String {
    pick(
        rng,
        &[
            "\"aGk=\"",
            "\"aGk\"",
            "\"aG\\nk=\"",
            "\"aG\\rk=\"",
            "\"aG\\r\\nk=\"",
            "\"\"",
            "null",
            "\"!!!\"",
            "\"/+/+\"",
            "\"-_-_\"",
            "\"AA==\"",
            "\"AA=\"",
            "\"AA===\"",
            "\"A\"",
            "\"AB==\"",
            "\"eyJhIjoxfQ==\"",
            "\"W10=\"",
            "\" aGk=\"",
            "\"aGk= \"",
            "\"aGk=\\t\"",
            "5",
            "[]",
            "\"\\u0061Gk=\"",
            "\"////\"",
        ],
    )
    .into()
}

fn time_value(rng: &mut SmallRng) -> String {
    if rng.random_bool(0.3) {
        // Built: every part at or past its edge.
        let year = pick(rng, &["2026", "0000", "9999", "1969", "0001", "10000", "-001"]);
        let month = pick(rng, &["01", "12", "00", "13", "1"]);
        let day = pick(rng, &["01", "28", "29", "31", "00", "32"]);
        let hour = pick(rng, &["00", "23", "24", "9"]);
        let minute = pick(rng, &["00", "59", "60"]);
        let second = pick(rng, &["00", "59", "60", "61"]);
        let frac = pick(
            rng,
            &[
                "",
                ".5",
                ".123456789",
                ".1234567891",
                ".000000000",
                ".",
                ",5",
                ".120000",
                ".999999999999",
            ],
        );
        let zone = pick(
            rng,
            &[
                "Z", "z", "+05:30", "-08:00", "+00:00", "-00:00", "+24:00", "+23:59", "+0530", "", "+05:60", "+5:30",
            ],
        );
        let t = pick(rng, &["T", "t", " "]);
        return format!("\"{year}-{month}-{day}{t}{hour}:{minute}:{second}{frac}{zone}\"");
    }
    pick(
        rng,
        &[
            "\"2026-11-26T04:44:46.123456789Z\"",
            "\"2018-09-01T12:00:00.000000005+05:30\"",
            "\"2018-09-01T12:00:00Z\"",
            "\"0001-01-01T00:00:00Z\"",
            "\"yesterday\"",
            "null",
            "\"\"",
            "0",
            "\"2018-09-01T12:00Z\"",
            "\"2018-09-01\"",
            "\"2018-09-01T12:00:00.Z\"",
            "\"\\u0032018-09-01T12:00:00Z\"",
        ],
    )
    .into()
}

/// Key spellings Go's case-insensitive matching (with Unicode simple folding) accepts,
/// and some it does not.
fn key_spelling(rng: &mut SmallRng, key: &str) -> String {
    match rng.random_range(0..20) {
        0 => key.to_uppercase(),
        1 => key
            .chars()
            .enumerate()
            .map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c })
            .collect(),
        2 => key.replacen('s', "\u{17f}", 1),
        3 => key.replacen('k', "\u{212a}", 1),
        4 => key.replacen('_', "", 1),
        5 => format!("{key} "),
        6 => key.replacen('a', "\\u0061", 1),
        7 => key.replacen('i', "\u{130}", 1),
        _ => key.to_string(),
    }
}

fn value_of(rng: &mut SmallRng, f: Field) -> Vec<u8> {
    if rng.random_bool(0.05) {
        return b"null".to_vec();
    }
    match f {
        Field::Str => str_value(rng),
        Field::Uuid => uuid_value(rng).into_bytes(),
        Field::I8 => int_value(rng, 8).into_bytes(),
        Field::I16 => int_value(rng, 16).into_bytes(),
        Field::I64 => int_value(rng, 64).into_bytes(),
        Field::Bytes => bytes_value(rng).into_bytes(),
        Field::Time => time_value(rng).into_bytes(),
    }
}

fn ws(rng: &mut SmallRng, out: &mut Vec<u8>) {
    if rng.random_bool(0.1) {
        out.extend_from_slice(pick(rng, &[" ", "\n", "\t", "\r\n ", "\u{a0}"]).as_bytes());
    }
}

/// One structured input of `kind`.
fn generate(rng: &mut SmallRng, kind: u8) -> Vec<u8> {
    if rng.random_bool(0.02) {
        return pick(
            rng,
            &[
                "null", "[]", "\"x\"", "1", "true", "", " ", "{", "}", "{}x", "{} ", "[{}]",
            ],
        )
        .as_bytes()
        .to_vec();
    }
    let mut out = Vec::with_capacity(256);
    ws(rng, &mut out);
    out.push(b'{');
    let mut first = true;
    let fs = fields(kind);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, f) in fs {
        if rng.random_bool(0.7) {
            entries.push((key_spelling(rng, name), value_of(rng, *f)));
        }
        if rng.random_bool(0.05) {
            // A duplicate: Go keeps the last, and a later null keeps the earlier.
            entries.push((key_spelling(rng, name), value_of(rng, *f)));
        }
    }
    if rng.random_bool(0.1) {
        let other = fs[rng.random_range(0..fs.len())].1;
        let v = value_of(rng, other);
        entries.push((pick(rng, &["extra", "Topic", "topic", "-", "", "x\u{0}"]).into(), v));
    }
    if rng.random_bool(0.05) {
        entries.push((
            "nested".into(),
            b"{\"a\":[1,2,{\"b\":null}],\"c\":\"\\ud800\"}".to_vec(),
        ));
    }
    if rng.random_bool(0.3) {
        let n = entries.len();
        for i in (1..n).rev() {
            entries.swap(i, rng.random_range(0..=i));
        }
    }
    for (k, v) in entries {
        if !first {
            out.push(b',');
        }
        first = false;
        ws(rng, &mut out);
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.push(b'"');
        ws(rng, &mut out);
        out.push(b':');
        ws(rng, &mut out);
        out.extend_from_slice(&v);
        ws(rng, &mut out);
    }
    out.push(b'}');
    ws(rng, &mut out);
    if rng.random_bool(0.1) {
        mutate(rng, &mut out);
    }
    out
}

/// A byte-level mutation: what a torn or corrupted record looks like.
fn mutate(rng: &mut SmallRng, v: &mut Vec<u8>) {
    if v.is_empty() {
        return;
    }
    let at = rng.random_range(0..v.len());
    match rng.random_range(0..5) {
        0 => v.truncate(at),
        1 => v[at] = rng.random(),
        2 => v.insert(at, *b"\"{}[],:\\0e-+. ".get(rng.random_range(0..15)).unwrap_or(&b'x')),
        3 => {
            v.remove(at);
        }
        _ => v.extend_from_slice(pick(rng, &[" x", "{}", "\u{0}", " ", "\n"]).as_bytes()),
    }
}

/// Ours: lenient accepted (with the re-encoded bytes), strict accepted.
fn ours(kind: u8, input: &[u8]) -> (Option<Vec<u8>>, bool) {
    fn go<T>(
        input: &[u8],
        decode: fn(&[u8], Strictness) -> Result<T, serde_json::Error>,
        encode: fn(&T, &mut Vec<u8>),
    ) -> (Option<Vec<u8>>, bool) {
        let lenient = decode(input, Strictness::Lenient).ok().map(|v| {
            let mut out = Vec::new();
            encode(&v, &mut out);
            out
        });
        (lenient, decode(input, Strictness::Strict).is_ok())
    }
    match kind {
        0 => go(input, Event::decode, Event::encode_into),
        1 => go(input, EventMeta::decode, EventMeta::encode_into),
        2 => go(input, EventStoreQuery::decode, EventStoreQuery::encode_into),
        _ => go(input, KafkaResponse::decode, KafkaResponse::encode_into),
    }
}

struct Args {
    oracle: PathBuf,
    inputs: u64,
    seed: u64,
    corpus: Vec<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        oracle: PathBuf::new(),
        inputs: 100_000,
        seed: 1,
        corpus: Vec::new(),
    };
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.ok_or(format!("{what} needs a value"))?
            .replace('_', "")
            .parse()
            .map_err(|e| format!("{what}: {e}"))
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--inputs" => a.inputs = num(it.next(), "--inputs")?,
            "--seed" => a.seed = num(it.next(), "--seed")?,
            "--corpus" => a.corpus.push(it.next().ok_or("--corpus needs a directory")?.into()),
            _ if a.oracle.as_os_str().is_empty() => a.oracle = x.into(),
            _ => return Err(format!("unexpected argument {x}")),
        }
    }
    if a.oracle.as_os_str().is_empty() {
        return Err("usage: differential ORACLE [--inputs N] [--seed S] [--corpus DIR]...".into());
    }
    Ok(a)
}

/// The corpus files, as (kind, input).
fn corpus(dirs: &[PathBuf]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for d in dirs {
        let entries = std::fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).map_err(|err| format!("{}: {err}", e.path().display()))?;
            if let Some((k, rest)) = bytes.split_first() {
                out.push((k % 4, rest.to_vec()));
            }
        }
    }
    Ok(out)
}

/// The whole sequence of inputs, made the same way twice (once to send, once to check).
fn inputs(seed: u64, n: u64, corpus: &[(u8, Vec<u8>)]) -> impl Iterator<Item = (u8, Vec<u8>)> + '_ {
    let mut rng = SmallRng::seed_from_u64(seed);
    corpus.iter().cloned().chain((0..n).map(move |i| {
        let kind = (i % 4) as u8;
        (kind, generate(&mut rng, kind))
    }))
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("differential: {e}");
            std::process::exit(2);
        }
    };
    let corpus = match corpus(&a.corpus) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("differential: {e}");
            std::process::exit(2);
        }
    };
    let mut child = match Command::new(&a.oracle)
        .arg("oracle")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("differential: cannot start the Go oracle {}: {e}", a.oracle.display());
            std::process::exit(2);
        }
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        eprintln!("differential: the oracle's pipes are missing");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let (seed, n, sent_corpus) = (a.seed, a.inputs, corpus.clone());
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, stdin);
        for (kind, input) in inputs(seed, n, &sent_corpus) {
            w.write_all(&[kind])?;
            w.write_all(&(input.len() as u32).to_le_bytes())?;
            w.write_all(&input)?;
        }
        w.flush()
    });
    let mut r = BufReader::with_capacity(1 << 20, stdout);
    let (mut checked, mut per_kind, mut bad, mut unwritable) = (0u64, [0u64; 4], Vec::new(), 0u64);
    let mut head = [0u8; 6];
    let mut go_bytes = Vec::new();
    for (kind, input) in inputs(a.seed, a.inputs, &corpus) {
        if let Err(e) = r.read_exact(&mut head) {
            eprintln!("differential: the oracle stopped answering after {checked} inputs: {e}");
            std::process::exit(2);
        }
        let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
        go_bytes.resize(len, 0);
        if let Err(e) = r.read_exact(&mut go_bytes) {
            eprintln!("differential: a torn answer from the oracle: {e}");
            std::process::exit(2);
        }
        let (go_lenient, go_strict) = (head[0] != 0, head[1] == 1);
        // 2: Go accepts it but cannot write it back (json.Marshal fails): no bytes to
        // compare, only the verdicts.
        let go_writes = head[0] == 1;
        unwritable += u64::from(head[0] == 2);
        let (lenient, strict) = ours(kind, &input);
        let agree = lenient.is_some() == go_lenient
            && strict == go_strict
            && (!go_writes || lenient.as_ref().is_none_or(|ours| *ours == go_bytes));
        if !agree {
            bad.push(format!(
                "{} {:?}: go lenient {go_lenient} strict {go_strict} {:?}; ours lenient {} strict {strict} {:?}",
                KINDS[kind as usize],
                String::from_utf8_lossy(&input),
                String::from_utf8_lossy(&go_bytes),
                lenient.is_some(),
                lenient.as_deref().map(String::from_utf8_lossy),
            ));
        }
        checked += 1;
        per_kind[kind as usize] += 1;
    }
    match writer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("differential: writing to the oracle: {e}"),
        Err(_) => eprintln!("differential: the writer thread panicked"),
    }
    let _ = child.wait();
    println!(
        "differential: {checked} inputs ({} corpus, seed {}) checked against Go in {:.1}s: event {}, meta {}, query {}, response {} ({unwritable} accepted that Go cannot write back); {} disagreements",
        corpus.len(),
        a.seed,
        started.elapsed().as_secs_f64(),
        per_kind[0],
        per_kind[1],
        per_kind[2],
        per_kind[3],
        bad.len()
    );
    for b in bad.iter().take(20) {
        println!("  {b}");
    }
    if !bad.is_empty() {
        std::process::exit(1);
    }
}
