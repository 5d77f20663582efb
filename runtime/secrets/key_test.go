package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadKeyFromEnv(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(0xf0 + i) // high bytes so base64 uses + / and - _
	}
	tests := []struct {
		name    string
		env     string
		wantErr bool
	}{
		{"hex lower", hex.EncodeToString(key), false},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key)), false},
		{"hex with newline", hex.EncodeToString(key) + "\n", false},
		{"base64 std padded", base64.StdEncoding.EncodeToString(key), false},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(key), false},
		{"base64 url padded", base64.URLEncoding.EncodeToString(key), false},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(key), false},
		{"hex too short", hex.EncodeToString(key[:31]), true},
		{"hex too long", hex.EncodeToString(append(key, 0)), true},
		{"hex bad char", "zz" + hex.EncodeToString(key)[2:], true},
		{"base64 16 bytes", base64.StdEncoding.EncodeToString(key[:16]), true},
		{"base64 33 bytes", base64.StdEncoding.EncodeToString(append(key, 1)), true},
		{"passphrase", "correct horse battery staple", true},
		{"whitespace only", "   ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			got, created, err := LoadKey(dir, tt.env)
			if tt.wantErr {
				if err == nil {
					t.Fatal("LoadKey succeeded, want error")
				}
				if v := strings.TrimSpace(tt.env); v != "" && strings.Contains(err.Error(), v) {
					t.Fatalf("error echoes the key: %v", err)
				}
				if !strings.Contains(err.Error(), EnvMasterKey) {
					t.Fatalf("error does not name %s: %v", EnvMasterKey, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if created || !bytes.Equal(got, key) {
				t.Fatalf("LoadKey = %x, created %v; want %x, false", got, created, key)
			}
			if _, err := os.Stat(filepath.Join(dir, KeyFileName)); !os.IsNotExist(err) {
				t.Fatalf("a key from the environment must not create %s (stat err %v)", KeyFileName, err)
			}
		})
	}
}

func TestLoadKeyCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	key, created, err := LoadKey(dir, "")
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("created %v, len %d", created, len(key))
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatal("key is all zeros")
	}
	path := filepath.Join(dir, KeyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("data dir mode %04o, want 0700", di.Mode().Perm())
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != hex.EncodeToString(key)+"\n" {
		t.Errorf("key file holds %q", data)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only %s (temporary file left behind?)", len(entries), KeyFileName)
	}
}

func TestLoadKeyReusesFile(t *testing.T) {
	dir := t.TempDir()
	first, created, err := LoadKey(dir, "")
	if err != nil || !created {
		t.Fatalf("first LoadKey: created %v, err %v", created, err)
	}
	second, created, err := LoadKey(dir, "")
	if err != nil {
		t.Fatalf("second LoadKey: %v", err)
	}
	if created {
		t.Error("second LoadKey reports created")
	}
	if !bytes.Equal(first, second) {
		t.Error("second LoadKey returned another key")
	}
}

func TestLoadKeyFileWithoutNewline(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{0xab}, KeySize)
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(hex.EncodeToString(want)), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadKey(dir, "")
	if err != nil || created || !bytes.Equal(got, want) {
		t.Fatalf("LoadKey = %x, %v, %v", got, created, err)
	}
}

func TestLoadKeyRefusesInsecureMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		dir := t.TempDir()
		if _, _, err := LoadKey(dir, ""); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, KeyFileName)
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadKey(dir, "")
		if err == nil {
			t.Fatalf("mode %04o: LoadKey succeeded, want error", mode)
		}
		if !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: error does not say how to fix it: %v", mode, err)
		}
	}
}

func TestLoadKeyRejectsBadFile(t *testing.T) {
	dir := t.TempDir()
	content := "not a key but maybe something private\n"
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadKey(dir, "")
	if err == nil {
		t.Fatal("LoadKey succeeded on a malformed key file")
	}
	if strings.Contains(err.Error(), "private") {
		t.Fatalf("error echoes the file content: %v", err)
	}
}

func TestLoadKeyNoDataDir(t *testing.T) {
	if _, _, err := LoadKey("", ""); err == nil {
		t.Fatal("LoadKey with no data dir and no env succeeded")
	}
}
