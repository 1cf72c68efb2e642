package engine

// campaignsState is the engine's state for campaigns, the scheduler and the fan-out.
type campaignsState struct{}

func (e *Engine) startCampaigns() error { return nil }
