package home

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/viper"
)

// ClientConfig is config/client.toml: settings of the client commands run with this home.
type ClientConfig struct {
	// KeyringBackend is how keyring/ stores keys: "file" or "test" (keyring.Backends).
	KeyringBackend string `mapstructure:"keyring-backend"`
}

// ClientConfig is config/client.toml.
func (p Paths) ClientConfig() string { return filepath.Join(p.Root, "config", "client.toml") }

const clientConfigTemplate = `# vchaind client settings of this home (keys, tx, upgrade, runtime install...).

# How keyring/ stores private keys:
#   "file": each key encrypted with a passphrase (typed on a terminal, or from
#           VCHAIN_KEYRING_PASSPHRASE or --keyring-passphrase-file)
#   "test": plain files: anyone who reads this home holds the keys. Local networks only.
# --keyring-backend and VCHAIN_KEYRING_BACKEND override it.
keyring-backend = %q
`

// WriteClientConfig writes c to path, replacing the file.
func WriteClientConfig(path string, c ClientConfig) error {
	if err := os.WriteFile(path, []byte(fmt.Sprintf(clientConfigTemplate, c.KeyringBackend)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadClientConfig reads path; ok is false when there is no such file.
func LoadClientConfig(path string) (c ClientConfig, ok bool, err error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return c, false, nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		return c, false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := v.Unmarshal(&c); err != nil {
		return c, false, fmt.Errorf("%s: %w", path, err)
	}
	return c, true, nil
}
