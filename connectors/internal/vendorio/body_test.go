package vendorio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func answer(status int, body io.Reader) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(body)}
}

func TestReadBody(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		max      int64
		want     string
		tooLarge bool
	}{
		{"2xx within", 200, "hello", 5, "hello", false},
		{"2xx empty", 204, "", 5, "", false},
		{"2xx too large", 200, "hello!", 5, "", true},
		{"error within", 500, "oops", 1, "oops", false},
		{"error cut", 503, strings.Repeat("e", ErrorBodyLimit+10), 1 << 20, strings.Repeat("e", ErrorBodyLimit), false},
		{"error at the limit", 404, strings.Repeat("e", ErrorBodyLimit), 1, strings.Repeat("e", ErrorBodyLimit), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, tooLarge, err := ReadBody(answer(tc.status, strings.NewReader(tc.body)), tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || tooLarge != tc.tooLarge {
				t.Errorf("ReadBody = %.40q, %v; want %.40q, %v", got, tooLarge, tc.want, tc.tooLarge)
			}
			if tooLarge && got != nil {
				t.Errorf("a body too large is returned: %.40q", got)
			}
		})
	}
	boom := errors.New("connection reset")
	if _, _, err := ReadBody(answer(200, iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Errorf("a failing read: %v, want %v", err, boom)
	}
}

type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

func TestDrainClose(t *testing.T) {
	r := strings.NewReader(strings.Repeat("x", drainLimit+100))
	c := &closer{Reader: r}
	DrainClose(c)
	if !c.closed {
		t.Error("not closed")
	}
	if r.Len() != 100 {
		t.Errorf("%d bytes left unread, want 100: the drain is bounded", r.Len())
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransportMessage(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://h/x?api_key=secret", Err: errors.New("dial tcp: connection refused")}
	cases := []struct {
		name             string
		err              error
		elapsed, timeout time.Duration
		want             string
	}{
		{"deadline", context.DeadlineExceeded, 1234567 * time.Microsecond, 0, "timeout after 1.235s"},
		{"wrapped deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), 2 * time.Second, 0, "timeout after 2s"},
		{"net timeout capped at the client's", &url.Error{Op: "Get", URL: "https://h/", Err: timeoutErr{}}, 65 * time.Second, time.Minute, "timeout after 1m0s"},
		{"net timeout under the client's", timeoutErr{}, 3 * time.Second, time.Minute, "timeout after 3s"},
		{"os deadline", os.ErrDeadlineExceeded, time.Second, 0, "timeout after 1s"},
		{"url error unwrapped", refused, time.Second, 0, "dial tcp: connection refused"},
		{"plain", io.ErrUnexpectedEOF, time.Second, 0, "unexpected EOF"},
	}
	for _, tc := range cases {
		if got := TransportMessage(tc.err, tc.elapsed, tc.timeout); got != tc.want {
			t.Errorf("%s: TransportMessage = %q, want %q", tc.name, got, tc.want)
		}
		if strings.Contains(TransportMessage(tc.err, tc.elapsed, tc.timeout), "secret") {
			t.Errorf("%s: the URL leaks", tc.name)
		}
	}
}
