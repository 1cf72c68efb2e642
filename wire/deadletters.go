package wire

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
)

// Dead letters (extension endpoints under /campaignd/, the same in every generation).

// AppendDeadLetters appends the reply of GET /campaignd/deadletters: {"sink", "dead_letters":
// [{seq, id, type, key, attempts, last_error, dead_at, event}], "next"?}. "next", the last seq,
// is present when the page is full (len(dls) == limit): the next page starts after it.
func AppendDeadLetters(dst []byte, sink string, dls []engine.DeadLetter, limit int) []byte {
	dst = append(dst, `{"sink":`...)
	dst = AppendString(dst, sink)
	dst = append(dst, `,"dead_letters":[`...)
	for i := range dls {
		d := &dls[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendUint(dst, d.Seq, 10)
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, d.Event.ID)
		dst = append(dst, `,"type":`...)
		dst = AppendString(dst, d.Event.Type)
		dst = append(dst, `,"key":`...)
		dst = AppendString(dst, d.Event.Key)
		dst = append(dst, `,"attempts":`...)
		dst = strconv.AppendInt(dst, int64(d.Attempts), 10)
		dst = append(dst, `,"last_error":`...)
		dst = AppendString(dst, d.LastError)
		dst = append(dst, `,"dead_at":`...)
		dst = AppendTime(dst, d.DeadAt)
		dst = append(dst, `,"event":`...)
		dst = append(dst, d.Event.JSON...)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if len(dls) == limit && limit > 0 {
		dst = append(dst, `,"next":`...)
		dst = strconv.AppendUint(dst, dls[len(dls)-1].Seq, 10)
	}
	return append(dst, '}')
}

// DecodeReplay decodes the body of POST /campaignd/deadletters/replay: {"sink"?, "ids"?}; an
// empty body selects everything.
func DecodeReplay(body []byte) (sink string, ids []string, err error) {
	var b struct {
		Sink string   `json:"sink"`
		IDs  []string `json:"ids"`
	}
	if len(body) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return "", nil, err
		}
	}
	return b.Sink, b.IDs, nil
}

// AppendReplayResult appends the reply of a replay: {"replayed", "delivered", "failed"}.
func AppendReplayResult(dst []byte, res *engine.ReplayResult) []byte {
	dst = append(dst, `{"replayed":`...)
	dst = strconv.AppendInt(dst, int64(res.Replayed), 10)
	dst = append(dst, `,"delivered":`...)
	dst = strconv.AppendInt(dst, int64(res.Delivered), 10)
	dst = append(dst, `,"failed":`...)
	dst = strconv.AppendInt(dst, int64(res.Failed), 10)
	return append(dst, '}')
}
