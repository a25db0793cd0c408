package otlpwire

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
)

// The collector's persistent queues store a traces request in pdata's
// request envelope (pdata/xpdata/request): its format version, the
// request's context and the TracesData. These are its fields.
const (
	envVersion protowire.Number = 1 // fixed32, 1
	envContext protowire.Number = 2
	envTraces  protowire.Number = 3
)

// Envelope returns the TracesData and the encoded context of a queued
// request. A request queued before collectors wrote the envelope is a bare
// TracesData (its first byte is never the version's tag): it is returned
// whole, with no context.
func Envelope(b []byte) (traces, reqCtx []byte, err error) {
	if len(b) < 5 || b[0] != byte(protowire.EncodeTag(envVersion, protowire.Fixed32Type)) || binary.LittleEndian.Uint32(b[1:5]) != 1 {
		return b, nil, nil
	}
	s := &sink{}
	for f := range fields(b, s) {
		switch {
		case f.typ != protowire.BytesType:
		case f.num == envTraces:
			traces = f.val
		case f.num == envContext:
			reqCtx = f.val
		}
	}
	return traces, reqCtx, s.err
}

// AppendEnvelope appends the envelope of parts (encoded TracesData, whose
// concatenation is one TracesData: its only field is repeated) and reqCtx
// (an encoded context, or nil) to dst, as pdata's own encoder writes it.
func AppendEnvelope(dst []byte, parts [][]byte, reqCtx []byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = protowire.AppendTag(dst, envVersion, protowire.Fixed32Type)
	dst = protowire.AppendFixed32(dst, 1)
	dst = protowire.AppendTag(dst, envTraces, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	for _, p := range parts {
		dst = append(dst, p...)
	}
	if reqCtx != nil {
		dst = protowire.AppendTag(dst, envContext, protowire.BytesType)
		dst = protowire.AppendBytes(dst, reqCtx)
	}
	return dst
}
