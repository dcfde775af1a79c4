package catalog

// SetRowGroupRows changes the row group size for a test.
func SetRowGroupRows(n int64) func() {
	old := rowGroupRows
	rowGroupRows = n
	return func() { rowGroupRows = old }
}
