package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/delivery"
)

func init() {
	register(&cli.Command{
		Name:  "feeds",
		Usage: "list each shop's feed URLs per platform with last publish time, items, size and age",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "shop", Usage: "one shop id", EnvVars: []string{"FEEDBATCH_FEEDS_SHOP"}},
			baseURLFlag,
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"FEEDBATCH_JSON"}},
		},
		Action: feedsAction,
	})
}

// baseURLFlag is the public base URL the platforms fetch feeds from, for
// feeds, report and finalize alike.
var baseURLFlag = &cli.StringFlag{Name: "base-url", Usage: "public base URL of the root (with the secret segment, if any)",
	DefaultText: "https://$FEEDBATCH_PUBLIC_HOST/ if set, else http://" + defaultServeAddr + "/ (feedbatch serve)",
	EnvVars:     []string{"FEEDBATCH_FEEDS_BASE_URL"}}

// feedBase is where the platforms fetch the root's feeds, ending in "/":
// --base-url, else https://$FEEDBATCH_PUBLIC_HOST/ (the CloudFront
// distribution in AWS), else feedbatch serve's default address.
func feedBase(c *cli.Context) (string, error) {
	base := c.String(baseURLFlag.Name)
	if base == "" {
		base = os.Getenv(baseURLFlag.EnvVars[0]) // commands without the flag (run, rerun) finalize too
	}
	if base == "" {
		base = delivery.PublicBaseURL()
	}
	if base == "" {
		base = "http://" + defaultServeAddr + "/"
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("%s: --base-url %q: want an absolute http(s) URL", c.Command.Name, base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base, nil
}

func feedsAction(c *cli.Context) error {
	ctx := c.Context
	base, err := feedBase(c)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c.String(rootFlag.Name))
	if err != nil {
		return err
	}
	feeds, err := delivery.ListFeeds(ctx, st, base, c.String("shop"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		if feeds == nil {
			feeds = []delivery.FeedInfo{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(feeds)
	}
	if len(feeds) == 0 {
		if c.String("shop") != "" {
			return fmt.Errorf("feeds: shop %s has no published feed", c.String("shop"))
		}
		fmt.Fprintln(w, "no published feed under this root")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHOP\tPLATFORM\tPUBLISHED (UTC)\tAGE\tITEMS\tSIZE\tURL")
	for _, f := range feeds {
		items := "?"
		if f.Items >= 0 {
			items = fmt.Sprint(f.Items)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Shop, f.Platform, f.PublishedAt.Format("2006-01-02 15:04"),
			age(now.Sub(f.PublishedAt)), items, size(f.Bytes), f.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range feeds {
		if f.Problem != "" {
			fmt.Fprintf(w, "%s %s: %s\n", f.Shop, f.Platform, f.Problem)
		}
	}
	return nil
}

// age is a duration for people: "45s", "12m", "5h03m", "3d04h".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// size is a byte count for people: "512 B", "1.5 KiB", "80.2 MiB".
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
