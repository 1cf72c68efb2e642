package engine

// Checkpoint writes a consistent copy of the store into dir (which must not exist); see
// storage.DB.Checkpoint. Every write the API acknowledged before the call is in it.
func (e *Engine) Checkpoint(dir string) error { return e.db.Checkpoint(dir) }
