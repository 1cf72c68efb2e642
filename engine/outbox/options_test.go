package outbox

import "testing"

func TestOptionsValidate(t *testing.T) {
	f := func(o Options, wantErr bool) {
		t.Helper()
		o.EnsureDefaults()
		err := o.Validate()
		if (err != nil) != wantErr {
			t.Fatalf("unexpected Validate result for %+v; got %v; want error %v", o, err, wantErr)
		}
	}
	f(Options{}, false)
	f(Options{Brokers: []string{"b:9092"}, KafkaCompression: "zstd"}, false)
	f(Options{KafkaCompression: "brotli"}, true)
	f(Options{Topic: "t", PushTopic: "t"}, true)
	f(Options{WebhookURL: "https://example.com/hook", APISecret: "s"}, false)
	f(Options{WebhookURL: "https://example.com/hook"}, true)
	f(Options{WebhookURL: "example.com/hook", APISecret: "s"}, true)
	f(Options{WebhookURL: "ftp://example.com/hook", APISecret: "s"}, true)
	f(Options{WebhookMaxAttempts: -1}, true)
}
