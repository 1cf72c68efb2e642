package wire

import (
	"encoding/json"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

// checkDecoded fails unless err is a client error (code 4) or nil, and custom is nil or a JSON object.
func checkDecoded(t *testing.T, err error, customs ...[]byte) {
	t.Helper()
	if err != nil {
		if e, ok := engine.AsError(err); !ok || e.Code != engine.CodeInput {
			t.Fatalf("decoder returned a non-input error: %v", err)
		}
		return
	}
	for _, c := range customs {
		if c == nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(c, &m) != nil {
			t.Fatalf("custom is not a JSON object: %s", c)
		}
	}
}

// FuzzDecodeChannelQuery feeds arbitrary bodies to the get-or-create decoder.
func FuzzDecodeChannelQuery(f *testing.F) {
	f.Add([]byte(`{"data":{"members":["u1","u2"],"created_by_id":"admin","color":"x"},"state":false,"watch":false,"presence":false}`))
	f.Add([]byte(`{"data":{},"state":false,"created_by_id":"admin","watch":false,"presence":false}`))
	f.Add([]byte(`{"data":{"members":[{"user_id":"u1","channel_role":"channel_moderator","x":[1]}],"created_by":{"id":"admin"}}}`))
	f.Add([]byte(`{"data":{"created_by_id":"admin"},"state":true,"messages":{"limit":5,"id_lt":"m1"},"members":{"limit":10},"watch":false}`))
	f.Add([]byte(`{"data":{"frozen":"x","team":1,"members":[null,{"user":{"id":"u"}}]}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Legacy{}.DecodeChannelQuery(body, "messaging", "x")
		if err != nil {
			checkDecoded(t, err)
			return
		}
		customs := [][]byte{req.Custom}
		for _, m := range req.Members {
			if m.UserID == "" {
				t.Fatalf("member without a user id decoded from %q", body)
			}
			customs = append(customs, m.Custom)
		}
		checkDecoded(t, nil, customs...)
	})
}

// FuzzDecodeSendMessage feeds arbitrary bodies to the send-message decoder.
func FuzzDecodeSendMessage(f *testing.F) {
	f.Add([]byte(`{"message":{"text":"hello","user_id":"u1","custom_field":1},"skip_push":true}`))
	f.Add([]byte(`{"message":{"id":"m","text":"x","user":{"id":"u"},"attachments":[{"type":"image"}],"mentioned_users":["a",{"id":"b"}],"parent_id":"p","silent":true}}`))
	f.Add([]byte(`{"message":{"attachments":{},"text":5}}`))
	f.Add([]byte(`{"message":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Legacy{}.DecodeSendMessage(body, "messaging", "x")
		if err != nil {
			checkDecoded(t, err)
			return
		}
		if a := req.Message.Attachments; a != nil {
			var v []any
			if json.Unmarshal(a, &v) != nil {
				t.Fatalf("attachments are not a JSON array: %s", a)
			}
		}
		checkDecoded(t, nil, req.Message.Custom)
	})
}

// FuzzDecodeQueryChannels feeds arbitrary bodies to the queryChannels decoder.
func FuzzDecodeQueryChannels(f *testing.F) {
	f.Add([]byte(`{"filter_conditions":{"members":{"$in":["u1"]}},"sort":[{"field":"last_message_at","direction":-1}],"state":true,"watch":false,"presence":false,"limit":10,"offset":0,"message_limit":5}`))
	f.Add([]byte(`{"limit":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := Legacy{}.DecodeQueryChannels(body)
		checkDecoded(t, err)
	})
}
