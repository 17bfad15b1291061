package main

// Go's side of the codec ratio in the README (eventbench's is `cargo bench --bench
// codec`, event/encode_decode): the seed's Event through encoding/json, encode then
// decode, at the bench's three payload sizes and with its field values. Run both on
// one machine at one time:
//   cd tests/golden/gen && go test -run '^$' -bench EventRoundTrip -benchtime 2s

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func benchEvent(size int) Event {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31 % 251)
	}
	return Event{
		Action:        "register_user",
		CorrelationID: u("7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f"),
		AggregateID:   42,
		Data:          data,
		Timestamp:     time.Unix(0, 1_764_132_286_123_456_789).UTC(),
		UserUUID:      u("11111111-2222-4333-8444-555555555555"),
		UUID:          u("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
		Version:       17,
		YearBucket:    2026,
	}
}

func BenchmarkEventRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024, 16 * 1024} {
		e := benchEvent(size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				j, err := json.Marshal(&e)
				if err != nil {
					b.Fatal(err)
				}
				var back Event
				if err := json.Unmarshal(j, &back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
