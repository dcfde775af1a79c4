package filestore

import (
	"io"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/store"
)

func TestSmoke(t *testing.T) {
	st, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := st.Put(ctx, "a/b", strings.NewReader("hi"), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "a/b", strings.NewReader("hi"), &store.PutOptions{IfAbsent: true}); err == nil {
		t.Fatal("want ErrExists")
	}
	rc, err := st.Get(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hi" {
		t.Fatal(string(b))
	}
	var keys []string
	st.List(ctx, "", func(i store.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 1 {
		t.Fatal(keys)
	}
}
