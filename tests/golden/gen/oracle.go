package main

// The oracle: Go's verdict on inputs eventbench's differential driver sends, decoded
// into the same struct definitions the golden vectors come from.
//
// Request frames on stdin:  kind (1 byte: 0 event, 1 meta, 2 query, 3 response),
//                           length (4 bytes, little-endian), input bytes.
// Answer frames on stdout:  lenient accepted (1 byte, json.Unmarshal; 2: accepted, but
//                           json.Marshal fails on the value), strict accepted
//                           (1 byte, Decoder with DisallowUnknownFields), length (4 bytes,
//                           little-endian), json.Marshal of the lenient value when accepted.
// Run: go run . oracle (scripts/setup builds it as .cache/bin/go-oracle).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func fresh(kind byte) interface{} {
	switch kind {
	case 0:
		return &Event{}
	case 1:
		return &EventMeta{}
	case 2:
		return &EventStoreQuery{}
	default:
		return &KafkaResponse{}
	}
}

func oracle() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	head := make([]byte, 5)
	buf := []byte{}
	for {
		if _, err := io.ReadFull(in, head); err != nil {
			if err == io.EOF {
				return
			}
			fmt.Fprintln(os.Stderr, "oracle: reading a frame:", err)
			os.Exit(2)
		}
		n := binary.LittleEndian.Uint32(head[1:])
		if n > 64<<20 {
			fmt.Fprintln(os.Stderr, "oracle: frame of", n, "bytes refused")
			os.Exit(2)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(in, buf); err != nil {
			fmt.Fprintln(os.Stderr, "oracle: reading an input:", err)
			os.Exit(2)
		}
		v := fresh(head[0])
		lenient := json.Unmarshal(buf, v) == nil
		var re []byte
		unencodable := false
		if lenient {
			var err error
			if re, err = json.Marshal(v); err != nil {
				// Accepted, but Go cannot write it back (a zone offset of 24 hours).
				re, unencodable = nil, true
			}
		}
		d := json.NewDecoder(bytes.NewReader(buf))
		d.DisallowUnknownFields()
		strict := d.Decode(fresh(head[0])) == nil
		ans := [6]byte{}
		if lenient {
			ans[0] = 1
		}
		if unencodable {
			ans[0] = 2
		}
		if strict {
			ans[1] = 1
		}
		binary.LittleEndian.PutUint32(ans[2:], uint32(len(re)))
		out.Write(ans[:])
		out.Write(re)
		// Answer as soon as the driver has stopped sending: no deadlock on a pipe.
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				os.Exit(0)
			}
		}
	}
}
