package keyring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// MinPassphrase is the shortest passphrase accepted for a new encrypted key.
const MinPassphrase = 8

// Passphrase supplies the passphrases of encrypted keys and exports. what names the
// secret ("key admin") for a prompt.
type Passphrase interface {
	// Get returns the passphrase of an existing secret.
	Get(what string) (string, error)
	// New returns a passphrase to encrypt a new secret with (a terminal asks twice).
	New(what string) (string, error)
}

// Static is a passphrase given up front (an environment variable); source names where it
// came from, for errors.
func Static(pass, source string) Passphrase { return &static{pass: pass, source: source} }

type static struct{ pass, source string }

func (s *static) Get(string) (string, error) {
	if s.pass == "" {
		return "", fmt.Errorf("%s is empty", s.source)
	}
	return s.pass, nil
}

func (s *static) New(what string) (string, error) {
	p, err := s.Get(what)
	if err != nil {
		return "", err
	}
	return p, checkNew(p, s.source)
}

// FromFile reads the passphrase from path (its first line; a trailing newline is not part
// of it) when first needed. Like a key file, the file must be readable by its owner only.
func FromFile(path string) Passphrase { return &fromFile{path: path} }

type fromFile struct {
	path string
	s    *static
}

func (f *fromFile) load() (*static, error) {
	if f.s != nil {
		return f.s, nil
	}
	if err := CheckPrivate(f.path); err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f.s = &static{pass: strings.TrimSuffix(line, "\r"), source: "passphrase file " + f.path}
	return f.s, nil
}

func (f *fromFile) Get(what string) (string, error) {
	s, err := f.load()
	if err != nil {
		return "", err
	}
	return s.Get(what)
}

func (f *fromFile) New(what string) (string, error) {
	s, err := f.load()
	if err != nil {
		return "", err
	}
	return s.New(what)
}

// Terminal reads passphrases from in without echo, prompting on out. When in is not a
// terminal it fails with the error noTerminal instead of waiting for input that a script
// will never type. The first new passphrase is reused for later new secrets of the same
// command (init encrypts two keys; one prompt).
func Terminal(in *os.File, out io.Writer, noTerminal error) Passphrase {
	return &terminal{in: in, out: out, noTerminal: noTerminal}
}

type terminal struct {
	in         *os.File
	out        io.Writer
	noTerminal error
	fresh      string
}

func (t *terminal) read(prompt string) (string, error) {
	fd := int(t.in.Fd())
	if !term.IsTerminal(fd) {
		return "", t.noTerminal
	}
	fmt.Fprint(t.out, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(t.out)
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	return string(b), nil
}

func (t *terminal) Get(what string) (string, error) {
	p, err := t.read("Passphrase for " + what + ": ")
	if err == nil && p == "" {
		err = errors.New("empty passphrase")
	}
	return p, err
}

func (t *terminal) New(what string) (string, error) {
	if t.fresh != "" {
		return t.fresh, nil
	}
	p, err := t.read("New passphrase for " + what + ": ")
	if err != nil {
		return "", err
	}
	if err := checkNew(p, "the passphrase"); err != nil {
		return "", err
	}
	again, err := t.read("Repeat it: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passphrases differ")
	}
	t.fresh = p
	return p, nil
}

func checkNew(p, source string) error {
	if len([]rune(p)) < MinPassphrase {
		return fmt.Errorf("%s is too short for a new encrypted key: use at least %d characters", source, MinPassphrase)
	}
	return nil
}
