//go:build wasip1

// Package bank is the v3 token ledger: v2's rules (a transfer burns a fee), with every
// amount stored as 8 bytes, big-endian, instead of v2's decimal text, under
// "balance/<ADDRESS>", "minted/<ADDRESS>" and "burned". Migrate converts the stored amounts
// from v1/v2's text when v3 becomes effective.
//
// Minting rule: any account may mint to itself, up to MintCap in total over its lifetime
// (recorded under "minted/<ADDRESS>"). That makes tokens available on a permissioned test
// chain without a privileged minter, while the supply stays bounded by the number of
// accounts that exist.
package bank

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/vchain/vchain/contracts/sdk"
)

// MintCap is the most one account can ever mint to itself.
const MintCap = 1_000_000

type mintArgs struct {
	Amount uint64 `json:"amount"`
}

type transferArgs struct {
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
}

type balanceArgs struct {
	Address string `json:"address"`
}

type transferResult struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	Fee     uint64 `json:"fee"`
}

type balanceResult struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
}

func init() {
	sdk.RegisterWarmup(sdk.WarmArgs(map[string]any{
		`{"amount":1}`:           &mintArgs{},
		`{"to":"AB","amount":1}`: &transferArgs{},
		`{"address":"AB"}`:       &balanceArgs{},
	}))
	sdk.RegisterWarmup(func() {
		_, _ = sdk.JSON(transferResult{})
		_, _ = sdk.JSON(balanceResult{})
	})
}

// New returns a bank whose transfers burn fee tokens from the sender on top of the amount
// (the fees burned so far are recorded under "burned").
func New(fee uint64) sdk.Handler {
	return func(c *sdk.Context, method string, args []byte) ([]byte, error) {
		return handle(c, fee, method, args)
	}
}

func handle(c *sdk.Context, fee uint64, method string, args []byte) ([]byte, error) {
	switch method {
	case "mint":
		var a mintArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		return mint(c, a)
	case "transfer":
		var a transferArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		return transfer(c, a, fee)
	case "balance":
		var a balanceArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		addr := c.Caller()
		if a.Address != "" {
			var err error
			if addr, err = normalize(a.Address); err != nil {
				return nil, err
			}
		}
		return sdk.JSON(balanceResult{Address: addr, Balance: get(c, "balance/"+addr)})
	default:
		return nil, sdk.UnknownMethod("bank", method)
	}
}

func mint(c *sdk.Context, a mintArgs) ([]byte, error) {
	if a.Amount == 0 {
		return nil, fmt.Errorf("mint: amount must be positive")
	}
	me := c.Caller()
	minted := get(c, "minted/"+me)
	if a.Amount > MintCap-minted {
		return nil, fmt.Errorf("mint: %d would exceed the mint cap of %d (already minted %d)", a.Amount, MintCap, minted)
	}
	put(c, "minted/"+me, minted+a.Amount)
	bal := get(c, "balance/"+me) + a.Amount
	put(c, "balance/"+me, bal)
	c.Emit("mint", "to", me, "amount", strconv.FormatUint(a.Amount, 10))
	return sdk.JSON(balanceResult{Address: me, Balance: bal})
}

func transfer(c *sdk.Context, a transferArgs, fee uint64) ([]byte, error) {
	to, err := normalize(a.To)
	if err != nil {
		return nil, err
	}
	if a.Amount == 0 {
		return nil, fmt.Errorf("transfer: amount must be positive")
	}
	from := c.Caller()
	fromBal := get(c, "balance/"+from)
	if fromBal < a.Amount || fromBal-a.Amount < fee { // no a.Amount+fee: it could overflow
		return nil, fmt.Errorf("transfer: insufficient funds: balance %d, amount %d, fee %d", fromBal, a.Amount, fee)
	}
	put(c, "balance/"+from, fromBal-a.Amount-fee)
	put(c, "balance/"+to, get(c, "balance/"+to)+a.Amount) // from == to nets to -fee
	if fee > 0 {
		put(c, "burned", get(c, "burned")+fee)
	}
	c.Emit("transfer", "from", from, "to", to, "amount", strconv.FormatUint(a.Amount, 10), "fee", strconv.FormatUint(fee, 10))
	return sdk.JSON(transferResult{Address: from, Balance: get(c, "balance/"+from), Fee: fee})
}

func normalize(addr string) (string, error) {
	// One pass, and a copy only for lower case: strings.ToUpper and strings.Trim cost a
	// transfer 15,000 gas.
	if len(addr) != 40 {
		return "", fmt.Errorf("address %q: want 40 hex characters", addr)
	}
	lower := false
	for i := 0; i < len(addr); i++ {
		switch c := addr[i]; {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'F':
		case 'a' <= c && c <= 'f':
			lower = true
		default:
			return "", fmt.Errorf("address %q: want 40 hex characters", addr)
		}
	}
	if lower {
		return strings.ToUpper(addr), nil
	}
	return addr, nil
}

func get(c *sdk.Context, key string) uint64 {
	v, ok := c.Get([]byte(key))
	if !ok {
		return 0
	}
	if len(v) != 8 {
		sdk.Abort(fmt.Sprintf("bank: corrupt amount under %q", key))
	}
	return binary.BigEndian.Uint64(v)
}

func put(c *sdk.Context, key string, v uint64) {
	c.Set([]byte(key), binary.BigEndian.AppendUint64(nil, v))
}
