package home

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/viper"
)

// RPCAddress returns the address a client on this machine dials to reach the node of the
// home: rpc.laddr of its config/config.toml, with a wildcard or empty host (0.0.0.0, [::],
// "") replaced by 127.0.0.1, since one can listen on those but not dial them. ok is false
// when the home has no config.toml (the caller keeps its default); a config.toml that
// cannot be read or names no usable rpc.laddr is an error, not a silent default: dialing
// another node than the home's is how an install ended up unattested.
func (p Paths) RPCAddress() (addr string, ok bool, err error) {
	path := p.CometConfig()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	laddr := v.GetString("rpc.laddr")
	if !v.IsSet("rpc.laddr") {
		laddr = cmtcfg.DefaultRPCConfig().ListenAddress // what the node falls back to
	}
	if laddr == "" {
		return "", false, fmt.Errorf("%s: rpc.laddr is empty: the node serves no RPC", path)
	}
	addr, err = DialAddress(laddr)
	if err != nil {
		return "", false, fmt.Errorf("%s: rpc.laddr: %w", path, err)
	}
	return addr, true, nil
}

// DialAddress turns a CometBFT listen address (tcp://HOST:PORT, unix://PATH) into one a
// client on the same machine dials: a wildcard or empty host becomes 127.0.0.1.
func DialAddress(laddr string) (string, error) {
	scheme, rest, found := strings.Cut(laddr, "://")
	if !found {
		scheme, rest = "tcp", laddr
	}
	if scheme == "unix" {
		return laddr, nil
	}
	if scheme != "tcp" {
		return "", fmt.Errorf("%q: want tcp://HOST:PORT or unix://PATH", laddr)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || port == "" {
		return "", fmt.Errorf("%q: want tcp://HOST:PORT or unix://PATH", laddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port), nil
}
