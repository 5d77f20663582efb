package secrets

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

func newTestSealer(t *testing.T, fill byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newTestSealer(t, 1)
	for _, plain := range [][]byte{nil, []byte("x"), []byte(`{"username":"sk_live_abc"}`), bytes.Repeat([]byte("a"), 1<<16)} {
		sealed := s.Seal(plain, []byte("aad"))
		// Short plaintexts can occur in random bytes by chance.
		if len(plain) >= 8 && bytes.Contains(sealed, plain) {
			t.Fatalf("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, []byte("aad"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	s := newTestSealer(t, 1)
	a, b := s.Seal([]byte("same"), nil), s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
	if a[0] != version1 || len(a) != overhead1+len("same") {
		t.Fatalf("sealed layout: version %d, len %d", a[0], len(a))
	}
}

func TestOpenFailures(t *testing.T) {
	s := newTestSealer(t, 1)
	other := newTestSealer(t, 2)
	aad := []byte{0, 0, 0, 0, 0, 0, 0, 7}
	sealed := s.Seal([]byte("secret"), aad)

	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    []byte
	}{
		{"wrong key", other, sealed, aad},
		{"aad mismatch", s, sealed, []byte{0, 0, 0, 0, 0, 0, 0, 8}},
		{"missing aad", s, sealed, nil},
		{"tampered version", s, flip(0), aad},
		{"tampered nonce", s, flip(1), aad},
		{"tampered ciphertext", s, flip(1 + nonceSize), aad},
		{"tampered tag", s, flip(len(sealed) - 1), aad},
		{"truncated", s, sealed[:len(sealed)-1], aad},
		{"too short", s, sealed[:overhead1-1], aad},
		{"empty", s, nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, tt.aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open err = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Fatalf("Open returned data on error: %q", got)
			}
		})
	}
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded, want error", n)
		}
	}
}

func TestSealerConcurrent(t *testing.T) {
	s := newTestSealer(t, 3)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			aad := []byte{byte(i)}
			for range 200 {
				got, err := s.Open(s.Seal([]byte("v"), aad), aad)
				if err != nil || string(got) != "v" {
					t.Errorf("round trip: %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
