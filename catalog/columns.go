package catalog

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// columnValues is how many values a column reader buffers.
const columnValues = 512

// columnReader streams the values of one column chunk, a page at a time.
// Values are copied out (strings) before the page is released, so its
// buffers go back to parquet-go's pools instead of to the garbage collector.
type columnReader struct {
	pages  parquet.Pages
	page   parquet.Page
	values parquet.ValueReader
	buf    []parquet.Value
	off, n int
}

// fill makes at least one value available, or returns io.EOF at the end of
// the chunk. Values still buffered are never from a released page: a page
// is released only once all its values were consumed.
func (c *columnReader) fill() error {
	for c.off >= c.n {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if err != nil {
				return err
			}
			c.page, c.values = p, p.Values()
		}
		n, err := c.values.ReadValues(c.buf)
		c.off, c.n = 0, n
		if n > 0 {
			return nil
		}
		if err == nil {
			return io.ErrNoProgress
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		c.release()
	}
	return nil
}

func (c *columnReader) release() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page, c.values = nil, nil
	}
}

func (c *columnReader) close() error {
	c.release()
	c.off, c.n = 0, 0
	if c.pages == nil {
		return nil
	}
	err := c.pages.Close()
	c.pages = nil
	return err
}

// columnScan reads a catalog in this package's schema column by column,
// one batch of rows at a time, straight into Products: no parquet.Row is
// assembled and nothing goes through reflection.
type columnScan struct {
	dec    *decoder
	groups []parquet.RowGroup
	g      int   // next row group to open
	left   int64 // rows left in the open row group
	cols   []columnReader
}

func newColumnScan(f *parquet.File, dec *decoder) *columnScan {
	s := &columnScan{dec: dec, groups: f.RowGroups(), cols: make([]columnReader, len(dec.fields))}
	bufs := make([]parquet.Value, len(s.cols)*columnValues)
	for i := range s.cols {
		s.cols[i].buf = bufs[i*columnValues : (i+1)*columnValues : (i+1)*columnValues]
	}
	return s
}

// read fills ps (zero Products) with the next rows; it returns io.EOF with
// the last ones.
func (s *columnScan) read(ps []Product) (int, error) {
	for s.left == 0 {
		if err := s.closeGroup(); err != nil {
			return 0, err
		}
		if s.g == len(s.groups) {
			return 0, io.EOF
		}
		rg := s.groups[s.g]
		s.g++
		s.left = rg.NumRows()
		for i, cc := range rg.ColumnChunks() {
			s.cols[i].pages = cc.Pages()
		}
	}
	n := min(int64(len(ps)), s.left)
	ps = ps[:n]
	for c := range s.cols {
		var err error
		if s.dec.fields[c] == fAdditionalImageLinks {
			err = s.readList(ps, c)
		} else {
			err = s.readColumn(ps, c)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("column %d ends before row group's %d rows: %w", c, s.groups[s.g-1].NumRows(), io.ErrUnexpectedEOF)
			}
			return 0, err
		}
	}
	s.left -= n
	if s.left == 0 && s.g == len(s.groups) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// readColumn reads one value per product of a column that is not repeated.
func (s *columnScan) readColumn(ps []Product, c int) error {
	col := &s.cols[c]
	for i := 0; i < len(ps); {
		if err := col.fill(); err != nil {
			return err
		}
		k := min(col.n-col.off, len(ps)-i)
		for _, v := range col.buf[col.off : col.off+k] {
			if !v.IsNull() {
				s.dec.set(&ps[i], c, v)
			}
			i++
		}
		col.off += k
	}
	return nil
}

// readList reads the additional image links of each product: a value with
// repetition level 0 starts a product's list, a null one is an empty list.
func (s *columnScan) readList(ps []Product, c int) error {
	col := &s.cols[c]
	var links []string
	i := -1
	for {
		err := col.fill()
		if errors.Is(err, io.EOF) && i == len(ps)-1 {
			break // the chunk ends with the last product's list
		}
		if err != nil {
			return err
		}
		v := col.buf[col.off]
		if v.RepetitionLevel() == 0 {
			if i >= 0 && len(links) > 0 {
				ps[i].AdditionalImageLinks = links
			}
			if i == len(ps)-1 {
				break // the next product's list: leave it for the next batch
			}
			i++
			links = nil
		}
		col.off++
		if !v.IsNull() {
			if links == nil {
				// Size the list from the values already buffered.
				k := 1
				for _, w := range col.buf[col.off:col.n] {
					if w.RepetitionLevel() == 0 {
						break
					}
					k++
				}
				links = make([]string, 0, k)
			}
			links = append(links, string(v.ByteArray()))
		}
	}
	if i >= 0 && len(links) > 0 {
		ps[i].AdditionalImageLinks = links
	}
	return nil
}

func (s *columnScan) closeGroup() error {
	var errs []error
	for i := range s.cols {
		if err := s.cols[i].close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *columnScan) close() error {
	s.left, s.g = 0, len(s.groups)
	return s.closeGroup()
}
