package feed

import (
	"io"
	"sync"
)

// asyncWriter hands full blocks to a goroutine that writes them to w, so
// that formatting and compression run on two cores at once. The bytes that
// reach w are exactly the bytes written, in order: the output does not
// depend on timing. It is the pipelining half of a parallel gzip, without a
// dependency; blocks are recycled, so memory is bounded by nblocks*size.
type asyncWriter struct {
	w      io.Writer
	cur    []byte
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	mu     sync.Mutex
	err    error
	closed bool
}

func newAsyncWriter(w io.Writer, size, nblocks int) *asyncWriter {
	a := &asyncWriter{
		w: w, full: make(chan []byte, nblocks), free: make(chan []byte, nblocks), done: make(chan struct{}),
	}
	for range nblocks {
		a.free <- make([]byte, 0, size)
	}
	a.cur = <-a.free
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	defer close(a.done)
	for b := range a.full {
		if a.getErr() == nil {
			if _, err := a.w.Write(b); err != nil {
				a.setErr(err)
			}
		}
		a.free <- b[:0]
	}
}

func (a *asyncWriter) getErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *asyncWriter) setErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

// Write implements io.Writer.
func (a *asyncWriter) Write(p []byte) (int, error) {
	if err := a.getErr(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur = a.cur[:len(a.cur)+k]
		p = p[k:]
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
	return n, nil
}

// Close writes what is buffered, waits for the writer goroutine and returns
// the first write error. It does not close w.
func (a *asyncWriter) Close() error {
	if a.closed {
		return a.getErr()
	}
	a.closed = true
	if len(a.cur) > 0 {
		a.full <- a.cur
	}
	close(a.full)
	<-a.done
	return a.getErr()
}
