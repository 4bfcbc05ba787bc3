package consensus

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

func TestVoterPolicy(t *testing.T) {
	v := func(id string) Server { return Server{ID: id, Voter: true} }
	n := func(id string) Server { return Server{ID: id} }
	tests := []struct {
		name            string
		servers         []Server
		leader          string
		promote, demote string
	}{
		{"one machine", []Server{v("a")}, "a", "[]", "[]"},
		{"two machines keep one voter", []Server{v("a"), n("b")}, "a", "[]", "[]"},
		{"two voters of two lose one", []Server{v("a"), v("b")}, "b", "[]", "[a]"},
		{"a third machine makes three voters", []Server{v("a"), n("b"), n("c")}, "a", "[b c]", "[]"},
		{"three of four vote", []Server{v("a"), v("b"), v("c"), n("d")}, "a", "[]", "[]"},
		{"a voter lost is replaced", []Server{v("a"), n("b"), v("c"), n("d")}, "c", "[b]", "[]"},
		{"never the leader demoted", []Server{v("a"), v("b"), v("c"), v("d"), v("e")}, "a", "[]", "[b c]"},
		{"workers never vote", []Server{v("a"), n("w1"), n("w2")}, "a", "[]", "[]"},
		{"a server among workers votes", []Server{v("a"), n("b"), n("w1"), n("c")}, "a", "[b c]", "[]"},
		{"a worker voting is demoted", []Server{v("a"), v("w1"), v("b"), v("c")}, "a", "[]", "[w1]"},
	}
	mayVote := func(id string) bool { return !strings.HasPrefix(id, "w") }
	ids := func(ss []Server) string {
		var s []string
		for _, x := range ss {
			s = append(s, x.ID)
		}
		return fmt.Sprintf("%v", s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			promote, demote := rebalance(tt.servers, tt.leader, mayVote)
			if got := ids(promote); got != tt.promote {
				t.Errorf("promote %s, want %s", got, tt.promote)
			}
			if got := ids(demote); got != tt.demote {
				t.Errorf("demote %s, want %s", got, tt.demote)
			}
		})
	}
}

func TestSnapshotHeader(t *testing.T) {
	r := bufio.NewReader(strings.NewReader(fmt.Sprintf(snapshotHeader, 42) + "SQLite format 3\x00..."))
	index, err := readSnapshotHeader(r)
	rest, _ := r.ReadString(0)
	if index != 42 || err != nil || rest != "SQLite format 3\x00" {
		t.Errorf("got %d, %v, rest %q; want 42 and the store's bytes", index, err, rest)
	}
	for _, bad := range []string{"", "SQLite format 3\x00", "pier snapshot 2 applied 1\n"} {
		if _, err := readSnapshotHeader(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("header %q read, want an error", bad)
		}
	}
}
