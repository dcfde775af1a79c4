// Command engineserve serves the local engine alone, for bench/engine.sh:
// the same engine as `feedbatch engine serve` without the rest of the
// binary. It prints the endpoint on its first line.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/feedbatch/feedbatch/engine/local"
)

func main() {
	dir := flag.String("dir", "", "state directory")
	vcpus := flag.Int("vcpus", 0, "vCPU budget")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *vcpus); err != nil {
		fmt.Fprintln(os.Stderr, "engineserve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, vcpus int) error {
	eng, err := local.Open(ctx, local.Config{Dir: dir, VCPUs: vcpus,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer eng.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	return eng.Serve(ctx, ln)
}
