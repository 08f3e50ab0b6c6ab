package abci

import (
	"context"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/vchain/vchain/app/snapshot"
)

// SetSnapshots makes the app take snapshots through m after each commit, serve them to
// peers and restore one when this node state-syncs. Call it before CometBFT starts.
func (a *App) SetSnapshots(m *snapshot.Manager) { a.snapshots = m }

// ListSnapshots offers the snapshots this node keeps.
func (a *App) ListSnapshots(context.Context, *abcitypes.RequestListSnapshots) (*abcitypes.ResponseListSnapshots, error) {
	res := &abcitypes.ResponseListSnapshots{}
	if a.snapshots == nil {
		return res, nil
	}
	list, err := a.snapshots.List()
	if err != nil {
		a.log.Error("list snapshots", "err", err)
		return res, nil
	}
	for _, o := range list {
		res.Snapshots = append(res.Snapshots, &abcitypes.Snapshot{Height: uint64(o.Height), Format: o.Format, Chunks: o.Chunks, Hash: o.Hash, Metadata: o.Metadata})
	}
	return res, nil
}

// LoadSnapshotChunk serves a chunk of a kept snapshot (empty if this node lacks it).
func (a *App) LoadSnapshotChunk(_ context.Context, req *abcitypes.RequestLoadSnapshotChunk) (*abcitypes.ResponseLoadSnapshotChunk, error) {
	if a.snapshots == nil {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	return &abcitypes.ResponseLoadSnapshotChunk{Chunk: a.snapshots.Chunk(int64(req.Height), req.Format, req.Chunk)}, nil
}

var offerResults = map[snapshot.OfferResult]abcitypes.ResponseOfferSnapshot_Result{
	snapshot.OfferAccept:       abcitypes.ResponseOfferSnapshot_ACCEPT,
	snapshot.OfferAbort:        abcitypes.ResponseOfferSnapshot_ABORT,
	snapshot.OfferReject:       abcitypes.ResponseOfferSnapshot_REJECT,
	snapshot.OfferRejectFormat: abcitypes.ResponseOfferSnapshot_REJECT_FORMAT,
}

// OfferSnapshot starts restoring a snapshot a peer offers, with the app hash of its height
// from a header the light client verified.
func (a *App) OfferSnapshot(_ context.Context, req *abcitypes.RequestOfferSnapshot) (*abcitypes.ResponseOfferSnapshot, error) {
	if a.snapshots == nil || req.Snapshot == nil {
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_REJECT}, nil
	}
	s := req.Snapshot
	res, err := a.snapshots.Offer(snapshot.Offer{Height: int64(s.Height), Format: s.Format, Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata, AppHash: req.AppHash}, a.exec.Empty())
	if err != nil {
		a.log.Error("snapshot refused", "height", s.Height, "format", s.Format, "err", err)
	}
	return &abcitypes.ResponseOfferSnapshot{Result: offerResults[res]}, nil
}

var applyResults = map[snapshot.ApplyResult]abcitypes.ResponseApplySnapshotChunk_Result{
	snapshot.ApplyAccept:         abcitypes.ResponseApplySnapshotChunk_ACCEPT,
	snapshot.ApplyAbort:          abcitypes.ResponseApplySnapshotChunk_ABORT,
	snapshot.ApplyRetry:          abcitypes.ResponseApplySnapshotChunk_RETRY,
	snapshot.ApplyRejectSnapshot: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT,
}

// ApplySnapshotChunk applies the next chunk of the snapshot being restored; after the last
// the executor loads the restored state, and Info reports its height.
func (a *App) ApplySnapshotChunk(ctx context.Context, req *abcitypes.RequestApplySnapshotChunk) (*abcitypes.ResponseApplySnapshotChunk, error) {
	if a.snapshots == nil {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ABORT}, nil
	}
	r := a.snapshots.Apply(ctx, req.Index, req.Chunk, req.Sender)
	if r.Err != nil {
		a.log.Error("snapshot chunk refused", "chunk", req.Index, "sender", req.Sender, "err", r.Err)
	}
	if r.Done {
		if err := a.exec.AfterRestore(); err != nil {
			a.log.Error("load the restored state", "err", err)
			return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ABORT}, nil
		}
	}
	return &abcitypes.ResponseApplySnapshotChunk{Result: applyResults[r.Result], RefetchChunks: r.RefetchChunks, RejectSenders: r.RejectSenders}, nil
}
