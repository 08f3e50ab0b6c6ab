package keyring

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestKeyFileTooOpen: like ssh, a key file its group or other users can access is
// refused, by Get and by List, with the mode, the path and the fix in the message; an
// owner-only mode (0600, 0400) is accepted.
func TestKeyFileTooOpen(t *testing.T) {
	kr := Open(t.TempDir())
	if _, err := kr.Add("alice"); err != nil {
		t.Fatal(err)
	}
	path := kr.path("alice")
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o644, false}, {0o640, false}, {0o604, false}, {0o660, false}, {0o602, false}, {0o610, false},
	} {
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, getErr := kr.Get("alice")
		_, listErr := kr.List()
		for what, err := range map[string]error{"Get": getErr, "List": listErr} {
			if tc.ok {
				if err != nil {
					t.Errorf("mode %04o: %s refused an owner-only key: %v", tc.mode, what, err)
				}
				continue
			}
			if err == nil || !errors.Is(err, ErrTooOpen) {
				t.Fatalf("mode %04o: %s accepted it: %v", tc.mode, what, err)
			}
			msg := err.Error()
			for _, part := range []string{fmt.Sprintf("permissions %04o for '%s' are too open", tc.mode.Perm(), path), "chmod 600 " + path} {
				if !strings.Contains(msg, part) {
					t.Errorf("mode %04o: %s: %q does not say %q", tc.mode, what, msg, part)
				}
			}
		}
	}
}
