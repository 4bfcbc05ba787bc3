package members_test

import (
	"io"
	"log"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"pier/cluster/members"
)

func TestWrongKeyCannotJoin(t *testing.T) {
	t.Parallel()
	ms := cluster(t, 0, "a", "b")
	intruder := start(t, "intruder", newKey(t), 0)
	if n, err := intruder.Join([]string{ms[0].GossipAddr()}); err == nil {
		t.Fatalf("join with another key: reached %d, no error", n)
	}
	// A machine without a key, speaking memberlist in the clear.
	plain := rawMemberlist(t, "plain", nil, nil)
	if n, err := plain.Join([]string{ms[0].GossipAddr()}); err == nil {
		t.Fatalf("join without a key: reached %d, no error", n)
	}
	time.Sleep(time.Second) // a probe round or two, were they let in
	for _, mc := range ms {
		for _, name := range []string{"intruder", "plain"} {
			if m, ok := mc.Member(name); ok {
				t.Errorf("%s knows %s: %+v", mc.name, name, m)
			}
		}
		if got := len(mc.Members()); got != 2 {
			t.Errorf("%s knows %d members, want 2", mc.name, got)
		}
	}
	if got := len(intruder.Members()); got != 1 {
		t.Errorf("the intruder knows %d members, want itself only", got)
	}
}

// A peer that holds the key but sends metadata this package cannot read
// is a member with a zero Load.
func TestMalformedMetaIsZeroLoad(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	a := start(t, "a", key, 0)
	for name, meta := range map[string][]byte{
		"garbage":   []byte("\x00\xff{not json"),
		"negative":  []byte(`{"c":-4,"ma":-1}`),
		"wrongtype": []byte(`{"a":7,"c":"four"}`),
		"huge":      []byte(`{"ma":9223372036854775807}`),
	} {
		odd := rawMemberlist(t, name, key, meta)
		if _, err := odd.Join([]string{a.GossipAddr()}); err != nil {
			t.Fatalf("%s joins: %v", name, err)
		}
		waitFor(t, 3*time.Second, "a sees "+name, func() bool { return stateOf(a, name) == members.Alive })
		if m, _ := a.Member(name); !reflect.DeepEqual(m.Load, members.Load{}) {
			t.Errorf("%s: got load %+v, want zero", name, m.Load)
		}
	}
}

// rawMemberlist is a memberlist node outside this package, with key (nil:
// none) and meta as its node metadata.
func rawMemberlist(t *testing.T, name string, key, meta []byte) *memberlist.Memberlist {
	t.Helper()
	c := memberlist.DefaultLocalConfig()
	c.Name = name
	c.BindAddr, c.BindPort = "127.0.0.1", 0
	c.AdvertisePort = 0
	c.SecretKey = key
	c.Logger = log.New(io.Discard, "", 0)
	c.Delegate = metaDelegate(meta)
	ml, err := memberlist.Create(c)
	if err != nil {
		t.Fatalf("memberlist %s: %v", name, err)
	}
	t.Cleanup(func() { ml.Shutdown() })
	return ml
}

type metaDelegate []byte

func (d metaDelegate) NodeMeta(int) []byte           { return d }
func (metaDelegate) NotifyMsg([]byte)                {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (metaDelegate) LocalState(bool) []byte          { return nil }
func (metaDelegate) MergeRemoteState([]byte, bool)   {}
