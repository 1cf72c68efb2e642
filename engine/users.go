package engine

// usersState is the engine's state for users, the user part of the filter, bulk import.
type usersState struct{}
