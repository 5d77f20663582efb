// Package secrets holds pollwire's master key and seals values with it, so
// credentials and signature keys are encrypted at rest.
package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeyFileName is the name of the generated master key file inside the data
// directory.
const KeyFileName = "master.key"

// EnvMasterKey is the environment variable LoadKey's env argument comes from.
// It is named in error messages so an operator knows what to fix.
const EnvMasterKey = "POLLWIRE_MASTER_KEY"

// LoadKey returns the master key.
//
// A non-empty env (the value of POLLWIRE_MASTER_KEY) wins: it must be 64 hex
// characters or base64 (standard or URL alphabet, padded or not) of exactly
// KeySize bytes. Otherwise the key is read from dataDir/master.key (hex), which
// must not be readable by group or others. If that file does not exist, a new
// random key is written there with mode 0600, creating dataDir with mode 0700
// if needed, and created is true.
//
// Errors never contain the key material.
func LoadKey(dataDir, env string) (key []byte, created bool, err error) {
	if env != "" {
		key, err := decodeEnvKey(env)
		if err != nil {
			return nil, false, err
		}
		return key, false, nil
	}
	if dataDir == "" {
		return nil, false, errors.New("secrets: no data directory to keep the master key in")
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err = readKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	return createKeyFile(dataDir, path)
}

// decodeEnvKey accepts the usual spellings of 32 random bytes, so operators
// can paste the output of `openssl rand -hex 32` or `openssl rand -base64 32`.
// Decoder errors are not wrapped: they quote offending characters.
func decodeEnvKey(env string) ([]byte, error) {
	s := strings.TrimSpace(env)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, fmt.Errorf("secrets: %s must be %d bytes written as %d hex characters or as base64 (e.g. the output of `openssl rand -hex %d`)",
		EnvMasterKey, KeySize, 2*KeySize, KeySize)
}

// readKeyFile reads and checks an existing key file. The error wraps
// fs.ErrNotExist when there is no file.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: read master key: %w", err)
	}
	defer f.Close()
	// Stat the open file rather than the path, so the mode checked is the
	// mode of the file read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: read master key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: master key %s is not a regular file", path)
	}
	// Windows reports synthetic permission bits; ACLs protect files there.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: master key %s has mode %04o and is readable by other users; run `chmod 600 %s`",
			path, fi.Mode().Perm(), path)
	}
	// A hex key is 64 bytes; the limit keeps a wrong path from being slurped.
	buf, err := io.ReadAll(io.LimitReader(f, 4*KeySize))
	if err != nil {
		return nil, fmt.Errorf("secrets: read master key %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(buf)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("secrets: master key %s must hold %d hex characters", path, 2*KeySize)
	}
	return key, nil
}

// createKeyFile writes a new random key so that dataDir/master.key either
// does not exist or holds a complete, synced key: a crash never leaves a
// truncated key behind.
func createKeyFile(dataDir, path string) ([]byte, bool, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secrets: create data directory: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)

	tmp, err := os.CreateTemp(dataDir, "."+KeyFileName+".*.tmp") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("secrets: create master key: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // on error paths; no-op once published
	if _, err := tmp.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("secrets: write master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("secrets: sync master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("secrets: write master key: %w", err)
	}

	// Publish with link, not rename: link fails if the file appeared in the
	// meantime, whereas rename would replace a key that another pollwire
	// starting at the same moment may already be sealing secrets with.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readKeyFile(path)
			return key, false, err
		}
		// Some filesystems (FAT, some network mounts) have no hard links.
		if err := os.Rename(tmpName, path); err != nil {
			return nil, false, fmt.Errorf("secrets: create master key: %w", err)
		}
	}
	// Drop the temporary name before syncing the directory, so a crash does
	// not leave a second copy of the key behind.
	os.Remove(tmpName)
	if err := syncDir(dataDir); err != nil {
		return nil, false, fmt.Errorf("secrets: sync data directory: %w", err)
	}
	return key, true, nil
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
