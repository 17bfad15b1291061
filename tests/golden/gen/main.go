// Command gen writes tests/golden/vectors.json: what Go's encoding/json emits for the
// seed models (struct definitions and tags copied from go-eventstore-models v2.0.1, with
// gofrs/uuid, of which TerrexTech/uuuid is a fork) and which inputs it accepts.
// Regenerate with: cd tests/golden/gen && go run . > ../vectors.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	uuuid "github.com/gofrs/uuid"
)

type Event struct {
	Action        string     `cql:"action" json:"action"`
	CorrelationID uuuid.UUID `json:"correlation_id,omitempty"`
	AggregateID   int8       `cql:"aggregate_id" json:"aggregate_id"`
	Data          []byte     `cql:"data" json:"data"`
	Timestamp     time.Time  `cql:"timestamp" json:"timestamp"`
	UserUUID      uuuid.UUID `cql:"user_uuid" json:"user_uuid"`
	UUID          uuuid.UUID `cql:"uuid" json:"uuid"`
	Version       int64      `cql:"version" json:"version"`
	YearBucket    int16      `cql:"year_bucket" json:"year_bucket"`
}

type EventMeta struct {
	AggregateVersion int64 `cql:"aggregate_version" json:"aggregate_version"`
	AggregateID      int8  `cql:"aggregate_id" json:"aggregate_id"`
	PartitionKey     int8  `cql:"partition_key" json:"partition_key"`
}

type EventStoreQuery struct {
	AggregateID      int8  `json:"aggregate_id"`
	AggregateVersion int64 `json:"aggregate_version"`
}

type KafkaResponse struct {
	AggregateID   int8       `json:"aggregate_id,omitempty"`
	CorrelationID uuuid.UUID `json:"correlation_id,omitempty"`
	Input         []byte     `json:"input"`
	Error         string     `json:"error"`
	Result        []byte     `json:"result,omitempty"`
	Topic         string     `json:"-"`
}

type encodeCase struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	JSON string `json:"json"`
}

type decodeCase struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Input     string `json:"input"`
	Accepted  bool   `json:"accepted"`
	Strict    bool   `json:"strict_accepted"`
	Reencoded string `json:"reencoded,omitempty"`
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func u(s string) uuuid.UUID { return uuuid.Must(uuuid.FromString(s)) }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "oracle" {
		oracle()
		return
	}
	ist := time.FixedZone("IST", 5*3600+30*60)
	pst := time.FixedZone("PST", -8*3600)
	enc := []encodeCase{}
	add := func(name, kind string, v interface{}) {
		enc = append(enc, encodeCase{name, kind, string(must(json.Marshal(v)))})
	}
	add("event_typical", "event", Event{
		Action: "register_user", CorrelationID: u("7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f"),
		AggregateID: 12, Data: []byte(`{"name":"ada"}`),
		Timestamp: time.Date(2026, 11, 26, 4, 44, 46, 123456789, time.UTC),
		UserUUID:  u("11111111-2222-4333-8444-555555555555"), UUID: u("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
		Version: 3, YearBucket: 2026,
	})
	add("event_zero", "event", Event{})
	add("event_empty_data", "event", Event{Data: []byte{}, AggregateID: 1})
	add("event_trailing_zeros", "event", Event{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)})
	add("event_micro", "event", Event{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC)})
	add("event_offset_pos", "event", Event{Timestamp: time.Date(2018, 9, 1, 12, 0, 0, 5, ist)})
	add("event_offset_neg", "event", Event{Timestamp: time.Date(1999, 12, 31, 23, 59, 59, 999999999, pst)})
	add("event_html", "event", Event{Action: "a<b>&c\u2028d\u2029e\"f\\g\n\t\x01\x7f\b\f\r é 😀 /"})
	add("event_max", "event", Event{AggregateID: 127, Version: math.MaxInt64, YearBucket: math.MaxInt16, Data: bytes.Repeat([]byte{0xff}, 7)})
	add("event_min", "event", Event{AggregateID: -128, Version: math.MinInt64, YearBucket: math.MinInt16, Data: []byte{0}})
	add("event_binary_data", "event", Event{Data: []byte{0, 1, 2, 250, 251, 252, 253, 254, 255, 62, 63}})
	add("meta_typical", "meta", EventMeta{AggregateVersion: 42, AggregateID: 7, PartitionKey: 0})
	add("meta_extremes", "meta", EventMeta{AggregateVersion: math.MinInt64, AggregateID: -128, PartitionKey: 127})
	add("query_typical", "query", EventStoreQuery{AggregateID: 5, AggregateVersion: 9})
	add("query_zero", "query", EventStoreQuery{})
	add("response_typical", "response", KafkaResponse{AggregateID: 12, CorrelationID: u("7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f"), Input: []byte(`{"a":1}`), Error: "", Result: []byte("[]"), Topic: "never.written"})
	add("response_zero", "response", KafkaResponse{})
	add("response_empty_slices", "response", KafkaResponse{Input: []byte{}, Result: []byte{}, Error: "x<y"})
	add("response_negative_agg", "response", KafkaResponse{AggregateID: -3, Error: "insert failed: <timeout> & retry"})

	dec := []decodeCase{}
	try := func(name, kind, input string) {
		var v interface{}
		mk := func() interface{} {
			switch kind {
			case "event":
				return &Event{}
			case "meta":
				return &EventMeta{}
			case "query":
				return &EventStoreQuery{}
			default:
				return &KafkaResponse{}
			}
		}
		v = mk()
		err := json.Unmarshal([]byte(input), v)
		c := decodeCase{Name: name, Kind: kind, Input: input, Accepted: err == nil}
		if err == nil {
			c.Reencoded = string(must(json.Marshal(v)))
		}
		d := json.NewDecoder(bytes.NewReader([]byte(input)))
		d.DisallowUnknownFields()
		c.Strict = d.Decode(mk()) == nil
		dec = append(dec, c)
	}
	full := `{"action":"a","correlation_id":"7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f","aggregate_id":3,"data":"aGk=","timestamp":"2026-11-26T04:44:46.5Z","user_uuid":"11111111-2222-4333-8444-555555555555","uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","version":2,"year_bucket":2026}`
	try("full", "event", full)
	try("upper_keys", "event", `{"ACTION":"x","Aggregate_ID":4,"YEAR_BUCKET":2025}`)
	try("unknown_key", "event", `{"action":"x","extra":1}`)
	try("unknown_nested", "event", `{"action":"x","extra":{"a":[1,2,{"b":null}]}}`)
	try("agg_200", "event", `{"aggregate_id":200}`)
	try("agg_neg129", "event", `{"aggregate_id":-129}`)
	try("agg_float", "event", `{"aggregate_id":1.0}`)
	try("agg_exp", "event", `{"aggregate_id":1e1}`)
	try("agg_string", "event", `{"aggregate_id":"5"}`)
	try("version_overflow", "event", `{"version":9223372036854775808}`)
	try("year_overflow", "event", `{"year_bucket":32768}`)
	try("uuid_braced", "event", `{"uuid":"{AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE}"}`)
	try("uuid_urn", "event", `{"uuid":"urn:uuid:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}`)
	try("uuid_hex32", "event", `{"uuid":"aaaaaaaabbbb4ccc8dddeeeeeeeeeeee"}`)
	try("uuid_empty", "event", `{"uuid":""}`)
	try("uuid_bad", "event", `{"uuid":"not-a-uuid"}`)
	try("uuid_null", "event", `{"uuid":null}`)
	try("uuid_number", "event", `{"uuid":5}`)
	try("data_null", "event", `{"data":null}`)
	try("data_empty", "event", `{"data":""}`)
	try("data_bad_b64", "event", `{"data":"!!!"}`)
	try("data_unpadded", "event", `{"data":"aGk"}`)
	try("data_newline", "event", `{"data":"aG\nk="}`)
	try("ts_offset", "event", `{"timestamp":"2018-09-01T12:00:00.000000005+05:30"}`)
	try("ts_no_frac", "event", `{"timestamp":"2018-09-01T12:00:00Z"}`)
	try("ts_lower_z", "event", `{"timestamp":"2018-09-01t12:00:00z"}`)
	try("ts_bad", "event", `{"timestamp":"yesterday"}`)
	try("ts_null", "event", `{"timestamp":null}`)
	try("ts_hour24", "event", `{"timestamp":"2018-09-01T24:00:00Z"}`)
	try("ts_comma", "event", `{"timestamp":"2018-09-01T12:00:00,5Z"}`)
	try("dup_keys", "event", `{"action":"first","action":"second"}`)
	try("action_null", "event", `{"action":null}`)
	try("action_number", "event", `{"action":1}`)
	try("action_escapes", "event", `{"action":"\u003c\u2028\ud83d\ude00"}`)
	try("not_object", "event", `[1,2]`)
	try("empty_object", "event", `{}`)
	try("trailing_garbage", "event", `{"action":"a"} x`)
	try("truncated", "event", `{"action":"a"`)
	try("query_full", "query", `{"aggregate_id":5,"aggregate_version":9}`)
	try("query_unknown", "query", `{"aggregate_id":5,"aggregate_version":9,"correlation_id":"7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f"}`)
	try("meta_full", "meta", `{"aggregate_version":42,"aggregate_id":7,"partition_key":0}`)
	try("response_full", "response", `{"aggregate_id":12,"correlation_id":"7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f","input":"eyJhIjoxfQ==","error":"","result":"W10="}`)
	try("response_topic_key", "response", `{"error":"e","Topic":"t"}`)
	try("key_long_s", "event", "{\"ver\u017fion\":3,\"u\u017fer_uuid\":\"11111111-2222-4333-8444-555555555555\"}")
	try("key_kelvin", "meta", "{\"partition_\u212aey\":5}")
	try("key_dotless_i", "event", "{\"act\u0131on\":\"x\"}")
	// Found by the differential check against this oracle (examples/differential.rs):
	try("agg_minus_zero", "event", `{"aggregate_id":-0,"version":-0,"year_bucket":-0}`)
	try("agg_minus_zero_float", "event", `{"aggregate_id":-0.0}`)
	try("lone_high_surrogate", "event", `{"action":"\ud800x"}`)
	try("lone_low_surrogate", "response", `{"error":"\udc00\ud83d\ude00"}`)
	try("surrogate_unknown_key", "query", `{"aggregate_id":1,"x":"\ud800"}`)
	try("invalid_utf8", "event", "{\"action\":\"a\xff\xfeb\xf0\x9f\x98\"}")
	try("invalid_utf8_key", "query", "{\"aggregate\xffid\":3,\"aggregate_version\":4}")
	try("urn_upper", "event", `{"uuid":"URN:UUID:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}`)
	try("urn_hex32", "event", `{"uuid":"urn:uuid:aaaaaaaabbbb4ccc8dddeeeeeeeeeeee"}`)
	try("top_null", "meta", `null`)
	try("ts_escaped", "event", `{"timestamp":"\u0032018-09-01T12:00:00Z"}`)
	try("ts_hour_one_digit", "event", `{"timestamp":"2018-09-01T9:00:00Z"}`)
	try("ts_zone_60", "event", `{"timestamp":"2018-09-01T09:00:00+05:60"}`)
	try("ts_zone_25", "event", `{"timestamp":"2018-09-01T09:00:00+25:00"}`)
	try("ts_ten_digits", "event", `{"timestamp":"2018-09-01T09:00:00.9999999999Z"}`)
	try("ts_minus_zero_zone", "event", `{"timestamp":"2018-09-01T09:00:00-00:00"}`)
	try("data_array", "event", `{"data":[1,2,255,null]}`)
	try("data_array_bad", "event", `{"data":[256]}`)
	try("data_array_empty", "response", `{"input":[],"result":[0]}`)
	try("key_escaped", "meta", `{"\u0061ggregate_id":7}`)
	try("response_agg_zero", "response", `{"aggregate_id":0,"input":null,"error":"","result":""}`)

	out := map[string]interface{}{"generator": "go " + fmtVersion(), "encode": enc, "decode": dec}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", " ")
	if err := e.Encode(out); err != nil {
		panic(err)
	}
}

func fmtVersion() string { return fmt.Sprint(runtimeVersion()) }
