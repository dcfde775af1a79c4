package catalog

// SetRowGroupRows changes the row group size for a test.
func SetRowGroupRows(n int64) func() {
	old := rowGroupRows
	rowGroupRows = n
	return func() { rowGroupRows = old }
}

// Decoded reports whether r decodes rows itself (not through parquet-go's
// GenericReader).
func (r *Reader) Decoded() bool { return r.scan != nil }
