package engine

// segmentsState is the engine's state for segments and audience resolution.
type segmentsState struct{}

func (e *Engine) startSegments() error { return nil }
