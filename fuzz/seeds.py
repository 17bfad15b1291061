#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (fuzz/corpus/TARGET/).

    python3 fuzz/seeds.py RUN_DIR

from the golden vectors (tests/golden/vectors.json), the shipped scenarios and one
small finished run directory (RUN_DIR, e.g. a 2-second quickstart run). Seeds are
small on purpose: the fuzzer grows its own corpus under .cache/fuzz.
"""
import hashlib, json, os, pathlib, struct, sys

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"
SEP = b"\0--\0"


def put(target, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


kinds = {"event": 0, "meta": 1, "query": 2, "response": 3}
vectors = json.loads((root / "tests/golden/vectors.json").read_text())
for c in vectors["encode"]:
    put("codec", bytes([kinds[c["kind"]]]) + c["json"].encode())
for c in vectors["decode"]:
    put("codec", bytes([kinds[c["kind"]]]) + c["input"].encode())

for s in sorted((root / "scenarios").glob("*.toml")):
    text = s.read_bytes()
    put("scenario", text)
    put("scenario", text + b"\n%%\nduration=1s\nseed=3\nworkload.x.rate=5\n")

# Replies: a persistence reply, a query result and a produced event, with and without
# our headers (first byte: source, 0x80 headers, 0x40 this run's tag).
resp = [c["json"].encode() for c in vectors["encode"] if c["kind"] == "response"]
events = [c["json"].encode() for c in vectors["encode"] if c["kind"] == "event"]
hdr = struct.pack(">QQ", 1_000_000, 0x1234)
put("replies", bytes([0]) + resp[0])
put("replies", bytes([1]) + resp[0] + SEP + bytes([1]) + b'{"aggregate_id":3,"result":"' + b"W10=" + b'"}')
put("replies", bytes([2 | 0x80 | 0x40]) + hdr + events[0] + SEP + bytes([2 | 0x80]) + hdr + events[1])

if len(sys.argv) > 1:
    run = pathlib.Path(sys.argv[1])
    hlog = (run / "latency.hlog").read_bytes().split(b"\n")
    put("hlog", b"\n".join(hlog[:12]) + b"\n")
    files = ["summary.json", "run.json", "latency.hlog", "timeline.jsonl", "ledger.bin", "audit.json"]
    def part(name):
        p = run / name
        if not p.exists():
            return b""
        b = p.read_bytes()
        if name == "latency.hlog":
            b = b"\n".join(b.split(b"\n")[:12]) + b"\n"
        return b
    put("run_dir", SEP.join(part(f) for f in files))
    put("run_dir", SEP.join(part(f) if f != "summary.json" else b"" for f in files))
print("seeds:", {t.name: len(list(t.iterdir())) for t in corpus.iterdir()})
