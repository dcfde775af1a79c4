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

func main() { os.Exit(runMain(os.Args)) }

// runMain runs one command line as the binary does: SIGINT and SIGTERM
// cancel the command's context, a failure is printed as one line (a registry's problems one per line), and the
// result is the exit status.
func runMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, args)
	stop()
	if err != nil && !errors.Is(err, errHelpShown) {
		fmt.Fprintf(os.Stderr, "feedbatch: %s\n", errorText(err))
	}
	return exitCode(err)
}
