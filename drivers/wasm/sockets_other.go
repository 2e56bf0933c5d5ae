//go:build !linux

package wasm

// shutdownPortSockets is a no-op outside Linux: a guest blocked in accept
// or recv there ends only when a connection arrives or closes.
func shutdownPortSockets(map[int]bool) int { return 0 }
