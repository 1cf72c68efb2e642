package engine

// channelsState is the engine's state for channels, members and messages.
type channelsState struct{}
