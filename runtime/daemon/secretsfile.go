package daemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pollwire/pollwire/runtime/api"
)

// The admin secrets file holds two lines, "user=…" and "organization=…",
// readable by the owner only.
func readSecretsFile(path string) (api.Credentials, error) {
	var c api.Credentials
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return c, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return c, fmt.Errorf("admin secrets file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch k {
		case "user":
			c.User = v
		case "organization":
			c.Organization = v
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read %s: %w", path, err)
	}
	if c.User == "" || c.Organization == "" {
		return c, fmt.Errorf("admin secrets file %s lacks user= or organization=", path)
	}
	return c, nil
}

func writeSecretsFile(path string, c api.Credentials) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin.secrets-*")
	if err != nil {
		return fmt.Errorf("admin secrets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := fmt.Fprintf(tmp, "user=%s\norganization=%s\n", c.User, c.Organization); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
