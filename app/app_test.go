package app

import "testing"

func TestShare(t *testing.T) {
	abc := []string{"a", "b", "c"}
	for _, tc := range []struct {
		n         int
		placement []string
		self      string
		want      int
	}{
		{3, nil, "", 3}, {3, abc, "", 3}, {3, nil, "a", 3},
		{3, abc, "a", 1}, {3, abc, "c", 1}, {1, abc, "a", 1}, {1, abc, "b", 0},
		{5, abc, "a", 2}, {5, abc, "b", 2}, {5, abc, "c", 1}, {2, abc, "d", 0},
	} {
		if got := Share(tc.n, tc.placement, tc.self); got != tc.want {
			t.Errorf("Share(%d, %v, %q) = %d, want %d", tc.n, tc.placement, tc.self, got, tc.want)
		}
	}
}
