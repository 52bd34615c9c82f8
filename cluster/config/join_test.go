package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseJoinAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when an error is expected
		msg  string
	}{
		{"198.18.0.12", "198.18.0.12:7301", ""},
		{" 198.18.0.12:8301 ", "198.18.0.12:8301", ""},
		{"2001:2::12", "[2001:2::12]:7301", ""},
		{"[2001:2::12]", "[2001:2::12]:7301", ""},
		{"[2001:2::12]:8301", "[2001:2::12]:8301", ""},
		{"::ffff:198.18.0.12", "198.18.0.12:7301", ""},
		{"", "", "is empty"},
		{"lb2", "", "not an IP address"},
		{"lb2.example.com:7301", "", "must be an IP address, not a name"},
		{"198.18.0.12:http", "", "port is not a number"},
		{"198.18.0.12:0", "", "port 0 is not a port"},
		{"0.0.0.0", "", "not a unicast address"},
		{"224.0.0.18:7301", "", "not a unicast address"},
	} {
		got, msg := ParseJoinAddr(tc.in, 7301)
		if tc.want == "" {
			if msg == "" || !strings.Contains(msg, tc.msg) {
				t.Errorf("ParseJoinAddr(%q) = %v, %q; want a message with %q", tc.in, got, msg, tc.msg)
			}
			continue
		}
		if msg != "" || got != netip.MustParseAddrPort(tc.want) {
			t.Errorf("ParseJoinAddr(%q) = %v, %q; want %s", tc.in, got, msg, tc.want)
		}
	}
}
