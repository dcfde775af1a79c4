// Command feedbatch turns shop catalogs into ad-platform feeds and images,
// one AWS Batch array child per shop. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, os.Args)
	stop()
	if err != nil && !errors.Is(err, errHelpShown) {
		fmt.Fprintf(os.Stderr, "feedbatch: %s\n", oneLine(err))
	}
	os.Exit(exitCode(err))
}
