package server

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// rawInputContentsField is ModelInferRequest.raw_input_contents.
const rawInputContentsField protowire.Number = 7

// decodeInferRequest decodes a ModelInferRequest from b as proto.Unmarshal
// would, except that raw_input_contents alias b instead of being copied:
// for large tensors the body read off the wire is the only copy the server
// holds of them. b must not change while the request is in use.
//
// The message is walked at its top level only: raw_input_contents entries
// are taken as slices of b, everything else is handed to proto.Unmarshal,
// which accepts a message's fields in any order and split anywhere between
// fields.
func decodeInferRequest(b []byte) (*pb.ModelInferRequest, error) {
	req := &pb.ModelInferRequest{}
	var raws [][]byte
	// rest holds the other fields: a prefix of b while they all come before
	// the first raw_input_contents (as every encoder writes them), a copy
	// otherwise.
	var rest []byte
	restIsPrefix := true
	prefixEnd := 0
	seenRaw := false
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, fmt.Errorf("field at byte %d: %w", off, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, fmt.Errorf("field %d at byte %d: %w", num, off, protowire.ParseError(m))
		}
		field := b[off : off+n+m]
		if num == rawInputContentsField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[off+n:])
			raws = append(raws, v[:len(v):len(v)]) // full slice: appends never reach past it
			seenRaw = true
		} else {
			switch {
			case restIsPrefix && !seenRaw:
				prefixEnd = off + n + m
			case restIsPrefix:
				restIsPrefix = false
				rest = append(append([]byte{}, b[:prefixEnd]...), field...)
			default:
				rest = append(rest, field...)
			}
		}
		off += n + m
	}
	if restIsPrefix {
		rest = b[:prefixEnd]
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return nil, err
	}
	req.RawInputContents = raws
	return req, nil
}
