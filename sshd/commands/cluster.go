package commands

// cluster:*: founding, joining and leaving a cluster of pier machines, and
// its control plane's status. The nodes:* commands are in nodes.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pier/app"
)

// Cluster is what the cluster:* and nodes:* commands use: this machine's
// place in a cluster of pier machines, and the other members. Its errors
// are shown to the user as they are, so they must read well on their own.
// It is called from concurrent sessions.
type Cluster interface {
	// ClusterInit founds a cluster of this one machine (cluster CA, this
	// node's certificate, raft bootstrapped).
	ClusterInit(ctx context.Context) (app.ClusterStatus, error)
	// ClusterToken makes a one-time join token for role "server" or
	// "worker", valid for ttl.
	ClusterToken(ctx context.Context, role string, ttl time.Duration) (token string, expires time.Time, err error)
	// ClusterJoin joins this machine to the cluster at url
	// (https://host:port) with token; progress lines go to out.
	ClusterJoin(ctx context.Context, url, token string, out io.Writer) (app.ClusterStatus, error)
	// ClusterLeave removes this machine from its cluster (its apps move
	// first); progress lines go to out.
	ClusterLeave(ctx context.Context, out io.Writer) error
	// ClusterStatus is the control plane as this machine sees it;
	// Enabled is false, without an error, on a machine in no cluster.
	ClusterStatus(ctx context.Context) (app.ClusterStatus, error)
	// Nodes are the cluster's members, this machine among them (Self). On
	// a machine in no cluster it may be empty, or this machine alone.
	Nodes(ctx context.Context) ([]app.Member, error)
}

// Bounds and defaults of cluster:token and cluster:join's arguments.
const (
	defaultTokenRole = "server"
	defaultTokenTTL  = time.Hour
	minTokenTTL      = time.Minute
	maxTokenTTL      = 24 * time.Hour
	// tokenPrefix and maxTokenLen are the join token's format as
	// cluster/pki writes it (PIER1.<pin>.<id>.<secret>); only the backend
	// parses it.
	tokenPrefix = "PIER1."
	maxTokenLen = 256
)

// notInCluster is what the commands say on a machine in no cluster.
const notInCluster = "this machine is not in a cluster: pier cluster:init starts one"

// errNoCluster is every answer of a pier built without clustering.
var errNoCluster = errors.New("clustering is not available in this build")

// noCluster is the Cluster of a Table whose Info has none.
type noCluster struct{}

func (noCluster) ClusterInit(context.Context) (app.ClusterStatus, error) {
	return app.ClusterStatus{}, errNoCluster
}

func (noCluster) ClusterToken(context.Context, string, time.Duration) (string, time.Time, error) {
	return "", time.Time{}, errNoCluster
}

func (noCluster) ClusterJoin(context.Context, string, string, io.Writer) (app.ClusterStatus, error) {
	return app.ClusterStatus{}, errNoCluster
}

func (noCluster) ClusterLeave(context.Context, io.Writer) error { return errNoCluster }

func (noCluster) ClusterStatus(context.Context) (app.ClusterStatus, error) {
	return app.ClusterStatus{}, errNoCluster
}

func (noCluster) Nodes(context.Context) ([]app.Member, error) { return nil, errNoCluster }

// clusterCommands are cluster:init, token, join, leave and status, and
// nodes:list and report.
type clusterCommands struct{ p Cluster }

func (h clusterCommands) clusterInit(ctx context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	st, err := h.p.ClusterInit(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> Founded a cluster of one machine, %s, which leads it\n", st.Name)
	fmt.Fprintf(c.Stdout, "       made the cluster's CA and %s's certificate, and started its control plane\n", st.Name)
	fmt.Fprintln(c.Stdout, "-----> To add a machine, make a join token here:")
	fmt.Fprintln(c.Stdout, "       pier cluster:token")
	fmt.Fprintln(c.Stdout, "       then on that machine run:")
	fmt.Fprintf(c.Stdout, "       pier cluster:join %s TOKEN\n", h.joinURL(ctx))
	return nil
}

// clusterToken prints a join token alone on stdout, for
// TOKEN=$(pier cluster:token), and how to use it on stderr. The token is
// not repeated on stderr, which a script may log.
func (h clusterCommands) clusterToken(ctx context.Context, c Call, args []string) error {
	pos, flags, err := splitFlags(args, "--role", "--ttl")
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return badUsage("")
	}
	role := defaultTokenRole
	if v, ok := flags["--role"]; ok {
		if v != "server" && v != "worker" {
			return badUsage("--role %.20q: want server or worker", v)
		}
		role = v
	}
	ttl := defaultTokenTTL
	if v, ok := flags["--ttl"]; ok {
		if ttl, err = time.ParseDuration(v); err != nil {
			return badUsage("--ttl %.20q: want a duration such as 30m or 2h", v)
		}
		if ttl < minTokenTTL || ttl > maxTokenTTL {
			return badUsage("--ttl %s is out of range: a token lasts from %s to %s", v, shortDuration(minTokenTTL), shortDuration(maxTokenTTL))
		}
	}
	tok, exp, err := h.p.ClusterToken(ctx, role, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, tok)
	fmt.Fprintf(c.Stderr, "-----> It admits one %s, once, within %s (until %s). On that machine run:\n",
		role, shortDuration(time.Until(exp)), exp.Local().Format(time.DateTime))
	fmt.Fprintf(c.Stderr, "       pier cluster:join %s TOKEN\n", h.joinURL(ctx))
	fmt.Fprintln(c.Stderr, "       with TOKEN the line above")
	return nil
}

// joinURL is where another machine joins this one's cluster: this
// machine's cluster address, or a placeholder if Nodes does not say. It
// only fills in a hint, so a failing Nodes is not an error.
func (h clusterCommands) joinURL(ctx context.Context) string {
	if nodes, err := h.p.Nodes(ctx); err == nil {
		for _, m := range nodes {
			if m.Self && m.Address != "" {
				return "https://" + m.Address
			}
		}
	}
	return "https://HOST:PORT"
}

func (h clusterCommands) clusterJoin(ctx context.Context, c Call, args []string) error {
	if len(args) != 2 {
		return badUsage("")
	}
	if strings.HasPrefix(args[0], tokenPrefix) {
		return badUsage("the URL comes first, then the token")
	}
	u, err := joinTarget(args[0])
	if err != nil {
		return badUsage("%v", err)
	}
	if err := checkToken(args[1]); err != nil {
		return badUsage("%v", err)
	}
	st, err := h.p.ClusterJoin(ctx, u, args[1], c.Stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "-----> %s joined the cluster at %s\n", st.Name, u)
	return writeStatus(c.Stdout, st)
}

// joinTarget reads cluster:join's URL: https://HOST:PORT, or HOST:PORT
// to which it adds https://. It returns the URL in the first form.
func joinTarget(s string) (string, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	want := "want https://HOST:PORT, a cluster machine's address"
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("URL %.80q: %s", raw, want)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("URL %.80q: machines of a cluster speak only https; %s", raw, want)
	case u.Opaque != "" || u.User != nil || u.Hostname() == "":
		return "", fmt.Errorf("URL %.80q: %s", raw, want)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("URL %.80q: nothing may follow the port; %s", raw, want)
	case u.Port() == "":
		return "", fmt.Errorf("URL %.80q has no port: %s", raw, want)
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("URL %.80q: port %s is not between 1 and 65535", raw, u.Port())
	}
	return "https://" + net.JoinHostPort(u.Hostname(), u.Port()), nil
}

// checkToken is a sanity check of cluster:join's TOKEN, which is never
// echoed: it may be a real one, mistyped. The backend parses it.
func checkToken(s string) error {
	if len(s) > maxTokenLen {
		return fmt.Errorf("TOKEN is %d characters long, at most %d for a join token: pass the line pier cluster:token printed", len(s), maxTokenLen)
	}
	if !strings.HasPrefix(s, tokenPrefix) || len(s) == len(tokenPrefix) {
		return fmt.Errorf("TOKEN is not a join token (they start with %s): pass the line pier cluster:token printed", tokenPrefix)
	}
	return nil
}

func (h clusterCommands) clusterLeave(ctx context.Context, c Call, args []string) error {
	if len(args) != 0 {
		return badUsage("")
	}
	if err := h.p.ClusterLeave(ctx, c.Stdout); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, "-----> This machine has left its cluster")
	return nil
}

// clusterStatus prints the control plane as this machine sees it. With
// --format json: {"enabled","name","state","leader","voters","non_voters",
// "term","applied_index","commit_index","last_contact"}, last_contact
// left out on the leader; {"enabled": false} alone on a machine in no
// cluster.
func (h clusterCommands) clusterStatus(ctx context.Context, c Call, args []string) error {
	asJSON, err := listFormat(args)
	if err != nil {
		return err
	}
	st, err := h.p.ClusterStatus(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if !st.Enabled {
			return writeJSON(c.Stdout, struct {
				Enabled bool `json:"enabled"`
			}{})
		}
		out := struct {
			Enabled      bool       `json:"enabled"`
			Name         string     `json:"name"`
			State        string     `json:"state"`
			Leader       string     `json:"leader"` // "" during an election
			Voters       []string   `json:"voters"`
			NonVoters    []string   `json:"non_voters"`
			Term         uint64     `json:"term"`
			AppliedIndex uint64     `json:"applied_index"`
			CommitIndex  uint64     `json:"commit_index"`
			LastContact  *time.Time `json:"last_contact,omitempty"`
		}{true, st.Name, st.State, st.Leader, orEmpty(st.Voters), orEmpty(st.NonVoters),
			st.Term, st.AppliedIndex, st.CommitIndex, nil}
		if !st.LastContact.IsZero() {
			out.LastContact = &st.LastContact
		}
		return writeJSON(c.Stdout, out)
	}
	if !st.Enabled {
		fmt.Fprintln(c.Stdout, notInCluster)
		return nil
	}
	return writeStatus(c.Stdout, st)
}

// writeStatus prints st as cluster:status does.
func writeStatus(w io.Writer, st app.ClusterStatus) error {
	leader := st.Leader
	if leader == "" {
		leader = "none: an election is under way"
	}
	contact := "-" // the leader's own
	switch {
	case st.State == "Leader":
	case st.LastContact.IsZero():
		contact = "never"
	default:
		contact = contactAgo(st.LastContact)
	}
	fmt.Fprintf(w, "=== cluster, as %s sees it\n", st.Name)
	tw := columns(w)
	fmt.Fprintf(tw, "Leader:\t%s\n", leader)
	fmt.Fprintf(tw, "This machine:\t%s, %s\n", st.Name, st.State)
	fmt.Fprintf(tw, "Voters:\t%s\n", orDash(strings.Join(st.Voters, ", ")))
	fmt.Fprintf(tw, "Non-voters:\t%s\n", orDash(strings.Join(st.NonVoters, ", ")))
	fmt.Fprintf(tw, "Term:\t%d\n", st.Term)
	fmt.Fprintf(tw, "Applied index:\t%d\n", st.AppliedIndex)
	fmt.Fprintf(tw, "Commit index:\t%d\n", st.CommitIndex)
	fmt.Fprintf(tw, "Last contact:\t%s\n", contact)
	return tw.Flush()
}

// contactAgo says how long ago t was, to the millisecond under a second:
// "120ms ago", "3.4s ago", then as ago does.
func contactAgo(t time.Time) string {
	d := max(time.Since(t), 0)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms ago", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	}
	return ago(t)
}

// shortDuration is d to the minute without zero units: "1h", "1h30m",
// "45m"; under a minute, "less than a minute".
func shortDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// orEmpty is s, or an empty slice for nil, so that JSON says [] rather
// than null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
