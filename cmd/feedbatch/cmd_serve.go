package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/delivery"
)

// defaultServeAddr is where feedbatch serve listens, and the base URL
// feedbatch feeds prints when none is given.
const defaultServeAddr = "127.0.0.1:8080"

func init() {
	register(&cli.Command{
		Name:  "serve",
		Usage: "serve the root's published feeds and processed images over HTTP, as CloudFront does in AWS",
		Description: "Serves shops/<id>/feeds/<platform>.<ext>.gz and shops/<id>/images/<name> from the root\n" +
			"(file:// or s3://) with the headers they have in AWS; every other key is 404. Feeds can be put\n" +
			"behind HTTP basic auth (--user and FEEDBATCH_SERVE_PASSWORD); images never are.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "listen address (host:port); loopback only unless --allow-remote", Value: defaultServeAddr, EnvVars: []string{"FEEDBATCH_SERVE_ADDR"}},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow a non-loopback --addr (the feeds become reachable from the network)", EnvVars: []string{"FEEDBATCH_SERVE_ALLOW_REMOTE"}},
			&cli.StringFlag{Name: "user", Usage: "basic-auth user for feeds (with FEEDBATCH_SERVE_PASSWORD)", EnvVars: []string{"FEEDBATCH_SERVE_USER"}},
		},
		Action: serveAction,
	})
}

func serveAction(c *cli.Context) error {
	ctx := c.Context
	addr := c.String("addr")
	if err := checkServeAddr(addr, c.Bool("allow-remote")); err != nil {
		return err
	}
	auth := delivery.Auth{User: c.String("user"), Password: os.Getenv("FEEDBATCH_SERVE_PASSWORD")}
	if (auth.User == "") != (auth.Password == "") {
		return usagef("serve: basic auth needs both --user (FEEDBATCH_SERVE_USER) and FEEDBATCH_SERVE_PASSWORD")
	}
	st, err := openStore(ctx, c.String(rootFlag.Name))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log := slog.Default()
	srv := &http.Server{
		Handler:           &delivery.Handler{Store: st, Auth: auth, Log: log},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("serving feeds and images", "url", "http://"+ln.Addr().String()+"/", "root", c.String(rootFlag.Name), "basic_auth", auth.Enabled())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The base URL on stdout, as engine serve prints its endpoint.
	fmt.Fprintf(c.App.Writer, "http://%s/\n", ln.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// checkServeAddr refuses a listen address that is not loopback unless
// allowed: "localhost", 127.0.0.0/8 and ::1 are loopback; ":8080" and
// "0.0.0.0:8080" are every interface.
func checkServeAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("serve: --addr %q: want host:port (e.g. %s)", addr, defaultServeAddr)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usagef("serve: --addr %q is not a loopback address; give --allow-remote to serve the feeds to the network", addr)
}
