package collect

// SetSortChunk changes the dedup sort chunk for a test.
func SetSortChunk(n int64) func() {
	old := sortChunk
	sortChunk = n
	return func() { sortChunk = old }
}
