package engine

// outboxState is the engine's state for the outbox relays (Kafka, webhook, push).
type outboxState struct{}

func (e *Engine) startOutbox() error { return nil }
