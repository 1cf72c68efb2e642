package outbox

// SinkStatus is one sink's delivery state, as the dashboard shows it.
type SinkStatus struct {
	Sink string `json:"sink"`
	// Lag is how many committed events the sink has not delivered yet.
	Lag uint64 `json:"lag"`
	// Delivered, Failed and DeadLetters count since the process started.
	Delivered   uint64 `json:"delivered"`
	Failed      uint64 `json:"failed"`
	DeadLetters uint64 `json:"dead_letters"`
}

// Status returns the state of each enabled sink, in Sinks order.
func (m *Manager) Status() []SinkStatus {
	out := make([]SinkStatus, len(m.relays))
	for i, r := range m.relays {
		out[i] = SinkStatus{Sink: r.s.name(), Lag: uint64(max(r.met.lag.Get(), 0)), Delivered: r.met.delivered.Get(),
			Failed: r.met.failed.Get(), DeadLetters: r.met.deadLetters.Get()}
	}
	return out
}
