package main

import (
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/spf13/cobra"

	"github.com/vchain/vchain/abci"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:         "version",
		Annotations: offline,
		Short:       "Print the versions of vchaind and its CometBFT",
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			v := map[string]string{"vchaind": abci.Version, "cometbft": cmtversion.TMCoreSemVer, "go": goVersion}
			return newPrinter(cmd.OutOrStdout(), g).print(v,
				field{"vchaind", v["vchaind"]}, field{"cometbft", v["cometbft"]}, field{"go", v["go"]})
		},
	}
}
