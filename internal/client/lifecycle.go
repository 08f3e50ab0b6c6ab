package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// UpgradeStatus returns /upgrade/status, with readiness checked for version (0: the
// pending version, if any).
func (c *Client) UpgradeStatus(ctx context.Context, version uint64) (*executor.UpgradeStatus, error) {
	var data []byte
	if version != 0 {
		data = []byte(strconv.FormatUint(version, 10))
	}
	res, err := c.Query(ctx, "/upgrade/status", data)
	if err != nil {
		return nil, err
	}
	var st executor.UpgradeStatus
	if err := json.Unmarshal(res.Value, &st); err != nil {
		return nil, fmt.Errorf("/upgrade/status: decode answer: %w", err)
	}
	return &st, nil
}

// AttestMsg sets an attestation by validator of versions (version -> sha256 of its module)
// and of the execution profiles this binary carries: the attestation speaks for the node
// running this vchaind.
func AttestMsg(validator string, versions map[uint64][32]byte) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		m := &txv1.AttestInstall{Validator: validator, Profiles: profile.Supported()}
		for v, sum := range versions {
			m.Versions = append(m.Versions, &txv1.InstalledVersion{Version: v, CodeSha256: append([]byte(nil), sum[:]...)})
		}
		sort.Slice(m.Versions, func(i, j int) bool { return m.Versions[i].Version < m.Versions[j].Version })
		b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: m}
	}
}
