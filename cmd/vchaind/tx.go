package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
)

// txOutput is what `tx call` prints. Data, RuntimeVersion and Profile come from the
// result's execution record, which consensus covers: the contract's data and the runtime
// version and profile that executed the transaction. A transaction rejected before
// execution has no record: it shows its block's version from the events, and profile 0.
type txOutput struct {
	Height         int64  `json:"height"`
	Hash           string `json:"hash"`
	Code           uint32 `json:"code"`
	CodeName       string `json:"code_name"`
	Log            string `json:"log"`
	Data           string `json:"data"`
	GasWanted      int64  `json:"gas_wanted"`
	GasUsed        int64  `json:"gas_used"`
	RuntimeVersion string `json:"runtime_version"`
	Profile        uint32 `json:"profile"`
	Nonce          uint64 `json:"nonce"`
}

// simOutput is what `tx call --simulate` prints.
type simOutput struct {
	Height         int64  `json:"height"`
	Code           uint32 `json:"code"`
	CodeName       string `json:"code_name"`
	Log            string `json:"log"`
	Data           string `json:"data"`
	GasWanted      uint64 `json:"gas_wanted"`
	GasUsed        uint64 `json:"gas_used"`
	GasSuggested   uint64 `json:"gas_suggested"`
	RuntimeVersion string `json:"runtime_version"`
	Profile        uint32 `json:"profile"`
	Nonce          uint64 `json:"nonce"`
}

func newTxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Sign and broadcast transactions"}
	var from string
	var gas, nonce uint64
	var simulate bool
	var timeout time.Duration
	call := &cobra.Command{
		Use:   "call CONTRACT METHOD [ARGS_JSON]",
		Short: "Call a contract method and wait for the block that commits it",
		Long: `Sign a call with the --from key (its nonce is looked up from the node, counting
transactions still in its mempool), broadcast it, wait until it is committed, and print
the height, hash, result code and log, result data, gas used, and the runtime version and
execution profile that executed it (from the result's execution record, which consensus
covers). Exits 1 if the node refuses it, 2 if it is committed with a failure code.

Gas: without --gas, the call is first simulated on the node's last committed state (the
/simulate query: nothing is broadcast or kept) and signed with the gas it used plus a
margin, gas*1.2 + 10,000, at most the chain's max_gas_per_tx. If the simulation fails
(a contract error, a trap, out of gas at max_gas_per_tx) it is printed and nothing is
broadcast (exit 2). An explicit --gas skips the simulation.

--simulate only simulates: it prints the gas the call would use, its result code, log
and data, the runtime version that would execute it and the gas limit a call without
--gas would get, and broadcasts nothing (exit 1 if the node would refuse it, 2 if the
call would fail).

Examples:
  vchaind tx call kv set '{"key":"a","value":"1"}' --from admin --simulate
  vchaind tx call kv set '{"key":"a","value":"1"}' --from admin
  vchaind tx call bank mint '{"amount":1000}' --from admin
  vchaind tx call bank transfer '{"to":"<ADDRESS>","amount":10}' --from admin -o json`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var callArgs []byte
			if len(args) == 3 {
				callArgs = []byte(args[2])
				if !json.Valid(callArgs) {
					return fmt.Errorf("ARGS_JSON %q is not valid JSON", args[2])
				}
			}
			key, err := signingKey(cmd, g, from)
			if err != nil {
				return err
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ct := client.CallTx{Contract: args[0], Method: args[1], Args: callArgs, GasLimit: gas, Nonce: nonce}
			explicitGas := cmd.Flags().Changed("gas")
			if explicitGas && !simulate {
				raw, usedNonce, err := c.SignCall(ctx, key, ct)
				if err != nil {
					return err
				}
				_, err = submit(cmd, g, c, raw, usedNonce, timeout)
				return err
			}
			p, err := c.Params(ctx)
			if err != nil {
				return err
			}
			ct.ChainID = p.ChainID
			if !explicitGas {
				// Simulated at the largest limit, so only a call that cannot finish at all
				// runs out of gas; the gas a call uses does not depend on its limit.
				ct.GasLimit = p.App.MaxGasPerTx
			}
			raw, usedNonce, err := c.SignCall(ctx, key, ct)
			if err != nil {
				return err
			}
			sim, err := c.Simulate(ctx, raw)
			if err != nil {
				return err
			}
			suggested := client.GasWithMargin(sim.GasUsed, p.App.MaxGasPerTx)
			if simulate || sim.Code != 0 {
				if err := printSimulation(cmd, g, sim, suggested, usedNonce); err != nil {
					return err
				}
				if sim.Code != 0 {
					return &exitError{code: 2, err: fmt.Errorf("the call would fail (simulated on height %d, nothing broadcast): %s", sim.Height, sim.Log)}
				}
				return nil
			}
			ct.GasLimit, ct.Nonce = suggested, usedNonce
			if raw, _, err = c.SignCall(ctx, key, ct); err != nil {
				return err
			}
			if g.output == "text" {
				fmt.Fprintf(cmd.ErrOrStderr(), "simulated: gas %d, signing with gas limit %d\n", sim.GasUsed, suggested)
			}
			_, err = submit(cmd, g, c, raw, usedNonce, timeout)
			return err
		},
	}
	call.Flags().StringVar(&from, "from", "", "name of the signing key in --home's keyring (required)")
	call.Flags().Uint64Var(&gas, "gas", 0, "gas limit (default: the simulated gas * 1.2 + 10,000, at most max_gas_per_tx); skips the simulation")
	call.Flags().BoolVar(&simulate, "simulate", false, "run the call on the node's last committed state and print its gas and result; broadcast nothing")
	call.Flags().Uint64Var(&nonce, "nonce", 0, fmt.Sprintf("nonce to sign with (default: the account's next nonce); a later one, up to %d ahead, waits in the mempool until the nonces before it arrive", executor.MaxNonceAhead))
	call.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the block")
	_ = call.MarkFlagRequired("from")
	addKeyringFlags(cmd, g)
	cmd.AddCommand(call)
	return cmd
}

// submit broadcasts raw, waits for its block and prints the result. A transaction the
// node refuses is an error (exit 1); one committed with a failure code exits 2.
func submit(cmd *cobra.Command, g *globals, c *client.Client, raw []byte, nonce uint64, timeout time.Duration) (*coretypes.ResultTx, error) {
	ctx := cmd.Context()
	hash, err := c.Broadcast(ctx, raw)
	if err != nil {
		return nil, err
	}
	if g.output == "text" {
		fmt.Fprintf(cmd.ErrOrStderr(), "broadcast %X (nonce %d), waiting for its block...\n", hash, nonce)
	}
	res, err := c.WaitTx(ctx, hash, timeout)
	if err != nil {
		return nil, err
	}
	r := res.TxResult
	out := txOutput{
		Height: res.Height, Hash: fmt.Sprintf("%X", hash), Code: r.Code, CodeName: codes.Code(r.Code).String(),
		Log: r.Log, GasWanted: r.GasWanted, GasUsed: r.GasUsed,
		RuntimeVersion: client.RuntimeVersion(&r), Nonce: nonce,
	}
	profile := "-" // rejected before execution: nothing ran
	if rec, err := client.Record(&r); err == nil {
		out.Data, out.Profile, profile = printable(rec.Data), rec.Profile, strconv.FormatUint(uint64(rec.Profile), 10)
	} else if len(r.Data) != 0 {
		return res, fmt.Errorf("transaction %X in block %d: %w", hash, res.Height, err)
	}
	if err := newPrinter(cmd.OutOrStdout(), g).print(out,
		field{"height", out.Height},
		field{"tx hash", out.Hash},
		field{"code", fmt.Sprintf("%d (%s)", out.Code, out.CodeName)},
		field{"log", out.Log},
		field{"result", out.Data},
		field{"gas used", fmt.Sprintf("%d of %d", out.GasUsed, out.GasWanted)},
		field{"runtime version", out.RuntimeVersion},
		field{"profile", profile},
	); err != nil {
		return nil, err
	}
	if r.Code != 0 {
		return res, &exitError{code: 2, err: fmt.Errorf("transaction failed in block %d: %s", res.Height, r.Log)}
	}
	return res, nil
}

// printSimulation prints what `tx call --simulate` shows, and a failing simulation.
func printSimulation(cmd *cobra.Command, g *globals, sim *executor.SimulateResult, suggested, nonce uint64) error {
	out := simOutput{
		Height: sim.Height, Code: uint32(sim.Code), CodeName: sim.Code.String(), Log: sim.Log, Data: printable(sim.Data),
		GasWanted: sim.GasWanted, GasUsed: sim.GasUsed, GasSuggested: suggested,
		RuntimeVersion: strconv.FormatUint(sim.RuntimeVersion, 10), Profile: sim.Profile, Nonce: nonce,
	}
	return newPrinter(cmd.OutOrStdout(), g).print(out,
		field{"simulated on height", out.Height},
		field{"code", fmt.Sprintf("%d (%s)", out.Code, out.CodeName)},
		field{"log", out.Log},
		field{"result", out.Data},
		field{"gas used", fmt.Sprintf("%d of %d", out.GasUsed, out.GasWanted)},
		field{"gas limit to use", out.GasSuggested},
		field{"runtime version", out.RuntimeVersion},
		field{"profile", out.Profile},
	)
}

// printable returns data as text when it is UTF-8, else as hex.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("0x%x", b)
}
