package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const example = "../../examples/close-polling.json"

func TestRun(t *testing.T) {
	invalid := filepath.Join("testdata", "invalid-callback.json")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		stderr   []string // substrings of stderr
		quietOut bool     // stdout must be empty
		quietErr bool     // stderr must be empty
	}{
		{name: "valid example", args: []string{"validate", example}, code: 0,
			stdout: []string{example + ": ok"}, quietErr: true},
		{name: "invalid file names each error path", args: []string{"validate", invalid}, code: 1,
			stderr: []string{
				invalid + `: configuration."event.notification.callback.url": `,
				invalid + `: configuration."event.poller.configuration".contacts.pageSize: `,
			}, quietOut: true},
		{name: "one bad file fails the run", args: []string{"validate", example, invalid}, code: 1,
			stdout: []string{example + ": ok"}, stderr: []string{invalid + ": "}},
		{name: "missing file", args: []string{"validate", filepath.Join("testdata", "nope.json")}, code: 1,
			stderr: []string{"nope.json"}, quietOut: true},
		{name: "not JSON", args: []string{"validate", "main_test.go"}, code: 1,
			stderr: []string{"main_test.go: (body): "}, quietOut: true},
		{name: "validate without files", args: []string{"validate"}, code: 2, stderr: []string{"usage"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{name: "no command", args: nil, code: 2, stderr: []string{"Usage"}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"pollwire serve"}},
		{name: "serve with a bad flag", args: []string{"serve", "-no-such-flag"}, code: 2},
		{name: "serve with a bad log level", args: []string{"serve", "-log-level", "loud"}, code: 2, stderr: []string{"log-level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			if tt.quietOut && stdout.Len() > 0 {
				t.Errorf("stdout not empty: %s", &stdout)
			}
			if tt.quietErr && stderr.Len() > 0 {
				t.Errorf("stderr not empty: %s", &stderr)
			}
		})
	}
}
