package tx

import (
	"fmt"

	"github.com/vchain/vchain/app/codes"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// ActionBody returns a TxBody carrying the admin action a as its message, nil when a
// carries none: a proposal's action runs through the same checks and handlers as the
// message sent directly.
func ActionBody(a *txv1.AdminAction) *txv1.TxBody {
	if a == nil {
		return nil
	}
	b := &txv1.TxBody{}
	switch m := a.Action.(type) {
	case *txv1.AdminAction_RegisterRelease:
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: m.RegisterRelease}
	case *txv1.AdminAction_ScheduleUpgrade:
		b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: m.ScheduleUpgrade}
	case *txv1.AdminAction_CancelUpgrade:
		b.Msg = &txv1.TxBody_CancelUpgrade{CancelUpgrade: m.CancelUpgrade}
	case *txv1.AdminAction_AddValidator:
		b.Msg = &txv1.TxBody_AddValidator{AddValidator: m.AddValidator}
	case *txv1.AdminAction_UpdateValidator:
		b.Msg = &txv1.TxBody_UpdateValidator{UpdateValidator: m.UpdateValidator}
	case *txv1.AdminAction_RotateOperator:
		b.Msg = &txv1.TxBody_RotateOperator{RotateOperator: m.RotateOperator}
	case *txv1.AdminAction_SetAdmins:
		b.Msg = &txv1.TxBody_SetAdmins{SetAdmins: m.SetAdmins}
	default:
		return nil
	}
	return b
}

// BodyAction is the reverse of ActionBody: the admin action a TxBody's message is, or nil
// when the message is no admin action (a call, an attestation, a proposal).
func BodyAction(b *txv1.TxBody) *txv1.AdminAction {
	a := &txv1.AdminAction{}
	switch m := b.Msg.(type) {
	case *txv1.TxBody_RegisterRelease:
		a.Action = &txv1.AdminAction_RegisterRelease{RegisterRelease: m.RegisterRelease}
	case *txv1.TxBody_ScheduleUpgrade:
		a.Action = &txv1.AdminAction_ScheduleUpgrade{ScheduleUpgrade: m.ScheduleUpgrade}
	case *txv1.TxBody_CancelUpgrade:
		a.Action = &txv1.AdminAction_CancelUpgrade{CancelUpgrade: m.CancelUpgrade}
	case *txv1.TxBody_AddValidator:
		a.Action = &txv1.AdminAction_AddValidator{AddValidator: m.AddValidator}
	case *txv1.TxBody_UpdateValidator:
		a.Action = &txv1.AdminAction_UpdateValidator{UpdateValidator: m.UpdateValidator}
	case *txv1.TxBody_RotateOperator:
		a.Action = &txv1.AdminAction_RotateOperator{RotateOperator: m.RotateOperator}
	case *txv1.TxBody_SetAdmins:
		a.Action = &txv1.AdminAction_SetAdmins{SetAdmins: m.SetAdmins}
	default:
		return nil
	}
	return a
}

// MsgName is the protobuf field name of a TxBody message ("schedule_upgrade").
func MsgName(m any) string {
	switch m.(type) {
	case *txv1.TxBody_Call:
		return "call"
	case *txv1.TxBody_RegisterRelease:
		return "register_release"
	case *txv1.TxBody_ScheduleUpgrade:
		return "schedule_upgrade"
	case *txv1.TxBody_CancelUpgrade:
		return "cancel_upgrade"
	case *txv1.TxBody_AttestInstall:
		return "attest_install"
	case *txv1.TxBody_AddValidator:
		return "add_validator"
	case *txv1.TxBody_UpdateValidator:
		return "update_validator"
	case *txv1.TxBody_RotateOperator:
		return "rotate_operator"
	case *txv1.TxBody_SetAdmins:
		return "set_admins"
	case *txv1.TxBody_Propose:
		return "propose"
	case *txv1.TxBody_Approve:
		return "approve"
	}
	return fmt.Sprintf("%T", m)
}

// maxAdmins bounds the admin set a message may name.
const maxAdmins = 64

// checkMembershipMsg is checkMsg for the membership and admin messages.
func checkMembershipMsg(b *txv1.TxBody) *codes.Error {
	switch m := b.Msg.(type) {
	case *txv1.TxBody_AddValidator:
		a := m.AddValidator
		if a == nil {
			return codes.Errorf(codes.InvalidMessage, "empty add_validator")
		}
		if a.PubKeyType == "" || len(a.PubKeyType) > 32 {
			return codes.Errorf(codes.InvalidMessage, "add_validator needs a pub_key_type (ed25519)")
		}
		// Only the two key types CometBFT's validator updates carry have a known length;
		// another type is left to the chain's parameters to refuse, with its own code.
		want := map[string]int{"ed25519": 32, "secp256k1": 33}[a.PubKeyType]
		if want != 0 && len(a.PubKey) != want || want == 0 && (len(a.PubKey) == 0 || len(a.PubKey) > 128) {
			return codes.Errorf(codes.InvalidMessage, "add_validator: a %s key is %d bytes, got %d", a.PubKeyType, want, len(a.PubKey))
		}
		if a.Power <= 0 {
			return codes.Errorf(codes.InvalidMessage, "add_validator: power %d: must be at least 1", a.Power)
		}
		if _, err := ParseAddress(a.Operator); err != nil {
			return codes.Errorf(codes.InvalidMessage, "add_validator: operator: %v", err)
		}
		if len(a.Moniker) > 64 {
			return codes.Errorf(codes.InvalidMessage, "add_validator: moniker is %d bytes, at most 64", len(a.Moniker))
		}
	case *txv1.TxBody_UpdateValidator:
		u := m.UpdateValidator
		if u == nil {
			return codes.Errorf(codes.InvalidMessage, "empty update_validator")
		}
		if _, err := ParseAddress(u.Validator); err != nil {
			return codes.Errorf(codes.InvalidMessage, "update_validator: validator: %v", err)
		}
		if u.Power < 0 {
			return codes.Errorf(codes.InvalidMessage, "update_validator: power %d: must be 0 (remove) or more", u.Power)
		}
	case *txv1.TxBody_RotateOperator:
		r := m.RotateOperator
		if r == nil {
			return codes.Errorf(codes.InvalidMessage, "empty rotate_operator")
		}
		if _, err := ParseAddress(r.Validator); err != nil {
			return codes.Errorf(codes.InvalidMessage, "rotate_operator: validator: %v", err)
		}
		if _, err := ParseAddress(r.Operator); err != nil {
			return codes.Errorf(codes.InvalidMessage, "rotate_operator: operator: %v", err)
		}
	case *txv1.TxBody_SetAdmins:
		s := m.SetAdmins
		if s == nil || len(s.Admins) == 0 || len(s.Admins) > maxAdmins {
			return codes.Errorf(codes.InvalidMessage, "set_admins needs 1 to %d admins", maxAdmins)
		}
		seen := map[Address]bool{}
		for _, a := range s.Admins {
			addr, err := ParseAddress(a)
			if err != nil {
				return codes.Errorf(codes.InvalidMessage, "set_admins: %v", err)
			}
			if seen[addr] {
				return codes.Errorf(codes.InvalidMessage, "set_admins: %s is listed twice", addr)
			}
			seen[addr] = true
		}
		if s.Threshold == 0 || int(s.Threshold) > len(s.Admins) {
			return codes.Errorf(codes.InvalidMessage, "set_admins: threshold %d: must be between 1 and the %d admins", s.Threshold, len(s.Admins))
		}
	case *txv1.TxBody_Propose:
		p := m.Propose
		if p == nil {
			return codes.Errorf(codes.InvalidMessage, "empty propose")
		}
		inner := ActionBody(p.Action)
		if inner == nil {
			return codes.Errorf(codes.InvalidMessage, "propose carries no admin action")
		}
		if err := checkMsg(inner); err != nil {
			return codes.Errorf(err.Code, "propose: %s", err.Msg)
		}
	case *txv1.TxBody_Approve:
		if m.Approve == nil || m.Approve.Id == 0 {
			return codes.Errorf(codes.InvalidMessage, "approve needs a proposal id >= 1")
		}
	default:
		return codes.Errorf(codes.InvalidMessage, "unsupported message type %T", m)
	}
	return nil
}
