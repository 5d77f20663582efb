package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// KeySize is the size in bytes of the master key: AES-256.
const KeySize = 32

const (
	// version1 is AES-256-GCM with a random 96-bit nonce. The version byte
	// leads every sealed value so the format can change (a new algorithm,
	// key rotation) without guessing what older values are.
	version1  = 1
	nonceSize = 12
	// overhead1 is what a version 1 sealed value adds to its plaintext:
	// version byte, nonce and GCM tag.
	overhead1 = 1 + nonceSize + 16
)

// Sealer encrypts and authenticates small values, such as an instance's
// credentials, with the master key. It is safe for concurrent use: it holds
// no mutable state once built.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer using key, which must be KeySize bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: master key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext and binds it to aad, which is authenticated but
// not stored: Open must be given the same aad. Callers use aad to tie a
// value to its owner (for example an instance id) so a ciphertext copied to
// another record does not open. The result is a version byte, a random
// nonce and the ciphertext with its tag.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, overhead1+len(plaintext))
	out[0] = version1
	// Random nonces are safe here: with 96 bits, collisions stay negligible
	// far beyond the number of values a pollwire store will ever seal.
	// crypto/rand.Read never returns an error.
	rand.Read(out[1 : 1+nonceSize])
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, aad)
}

// Open authenticates and decrypts a value made by Seal with the same key and
// aad. Any failure is ErrDecrypt.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < overhead1 || sealed[0] != version1 {
		return nil, ErrDecrypt
	}
	nonce, ct := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plain, err := s.aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}
