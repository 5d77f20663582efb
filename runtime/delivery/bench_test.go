package delivery

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkSign measures the signature headers of one attempt of a 10 KiB
// notification, plain and Standard Webhooks.
func BenchmarkSign(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"}`), 1130)
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, key := range []string{"plain-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		b.Run(key[:5], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if h := Sign(body, key, "6f1c2a5e-0000-4000-8000-000000000000", ts); h.Get("Elements-Webhook-Signature") == "" {
					b.Fatal("no signature")
				}
			}
		})
	}
}
