package datefmt

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The golden files hold what Java 17's DateTimeFormatter prints and parses;
// see their headers. They are the reference for "java.time meaning".

func readTSV(t *testing.T, name string, cols int) [][]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		row := strings.Split(line, "\t")
		if len(row) != cols {
			t.Fatalf("%s: %d columns in %q, want %d", name, len(row), line, cols)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// javaZone maps a java zone id of the golden files to a Go location that
// prints the same zone id: java's ZoneOffset ids become unnamed fixed zones.
func javaZone(t *testing.T, id string) *time.Location {
	t.Helper()
	switch {
	case id == "Z":
		return time.FixedZone("", 0)
	case id[0] == '+' || id[0] == '-':
		secs, end, ok, _ := parseOffset(id, 0, 6, "Z")
		if !ok || end != len(id) {
			t.Fatalf("bad offset id %q", id)
		}
		return time.FixedZone("", secs)
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func javaInstant(t *testing.T, sec, nano string) time.Time {
	t.Helper()
	s, err1 := strconv.ParseInt(sec, 10, 64)
	n, err2 := strconv.ParseInt(nano, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad instant %s %s", sec, nano)
	}
	return time.Unix(s, n)
}

func TestJavaFormatGolden(t *testing.T) {
	rows := readTSV(t, "java_format.tsv", 7)
	if len(rows) < 40 {
		t.Fatalf("only %d golden rows", len(rows))
	}
	for _, r := range rows {
		pattern, zone, want, backSec, backNano := r[0], r[3], r[4], r[5], r[6]
		loc := javaZone(t, zone)
		at := javaInstant(t, r[1], r[2]).In(loc)
		t.Run(pattern+"@"+at.Format(time.RFC3339Nano)+"@"+zone, func(t *testing.T) {
			l, err := Compile(pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Format(at); got != want {
				t.Errorf("Format = %q, java prints %q", got, want)
			}
			if got := string(l.AppendFormat([]byte("x"), at)); got != "x"+want {
				t.Errorf("AppendFormat = %q, want %q", got, "x"+want)
			}
			got, err := l.Parse(want, loc)
			switch backSec {
			case "ERR":
				if err == nil {
					t.Errorf("Parse(%q) = %v, java rejects it", want, got)
				}
			case "-":
				// Java cannot build an instant (no date or no time); datefmt
				// fills in the missing fields, so the text must survive.
				if err != nil {
					t.Fatalf("Parse(%q): %v", want, err)
				}
				if again := l.Format(got); again != want {
					t.Errorf("Parse(%q) = %v, which formats as %q", want, got, again)
				}
			default:
				if err != nil {
					t.Fatalf("Parse(%q): %v", want, err)
				}
				if wantT := javaInstant(t, backSec, backNano); !got.Equal(wantT) {
					t.Errorf("Parse(%q) = %v, java reads %v", want, got, wantT.UTC())
				}
			}
		})
	}
}

// javaParseDeviations are texts datefmt reads although java rejects them, on
// purpose (see the package doc); TestDeviationsFromJava checks the values.
var javaParseDeviations = map[string]bool{
	"EEE, dd MMM yyyy HH:mm:ss Z|tue, 15 jan 2019 12:48:23 +0000": true,
	"EEE, dd MMM yyyy HH:mm:ss Z|TUE, 15 JAN 2019 12:48:23 +0000": true,
	"yyyy-MM-dd hh:mm a|2019-01-15 01:48 pm":                      true,
	"yyyy-MM-dd HH:mm:ss x|2019-09-15 15:00:00 +0030":             true,
	"yyyy-MM-dd HH:mm:ss x|2019-09-15 15:00:00 +0000":             true,
	"yyyy-MM-dd HH:mm:ss xxxx|2019-09-15 15:00:00 +000030":        true,
}

func TestJavaParseGolden(t *testing.T) {
	rows := readTSV(t, "java_parse.tsv", 5)
	for _, r := range rows {
		pattern, text, zone, sec, nano := r[0], r[1], r[2], r[3], r[4]
		t.Run(pattern+"|"+text+"|"+zone, func(t *testing.T) {
			l, err := Compile(pattern)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Parse(text, javaZone(t, zone))
			switch sec {
			case "ERR":
				deviation := javaParseDeviations[pattern+"|"+text]
				if err == nil && !deviation {
					t.Errorf("Parse(%q) = %v, java rejects it", text, got)
				}
				if err != nil && deviation {
					t.Errorf("Parse(%q): %v; datefmt is meant to read it", text, err)
				}
				if err != nil {
					var pe *ParseError
					if !asParseError(err, &pe) || pe.Input != text || pe.Pos < 0 || pe.Pos > len(text) {
						t.Errorf("error %#v is not a *ParseError with a position in the text", err)
					}
				}
			case "-":
				if err != nil {
					t.Errorf("Parse(%q): %v", text, err)
				}
			default:
				if err != nil {
					t.Fatalf("Parse(%q): %v", text, err)
				}
				if want := javaInstant(t, sec, nano); !got.Equal(want) {
					t.Errorf("Parse(%q) = %v, java reads %v", text, got, want.UTC())
				}
			}
		})
	}
}

func asParseError(err error, target **ParseError) bool {
	pe, ok := err.(*ParseError)
	if ok {
		*target = pe
	}
	return ok
}

// TestJavaCompileGolden checks that datefmt rejects as invalid exactly the
// patterns java rejects, and that every pattern java accepts either compiles
// or is reported as unsupported.
func TestJavaCompileGolden(t *testing.T) {
	rows := readTSV(t, "java_compile.tsv", 2)
	var compiled, unsupported int
	for _, r := range rows {
		pattern, javaOK := strings.ReplaceAll(r[0], `\t`, "\t"), r[1] == "OK"
		l, err := Compile(pattern)
		switch {
		case pattern == "":
			// Java accepts an empty pattern (it formats nothing); a date
			// format that says nothing is a configuration mistake here.
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("Compile(\"\") = %v, want ErrInvalidPattern", err)
			}
		case !javaOK:
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("Compile(%q) = %v, %v; java rejects it, want ErrInvalidPattern", pattern, l, err)
			}
		case err == nil:
			compiled++
			if l.String() != pattern {
				t.Errorf("String() = %q, want %q", l.String(), pattern)
			}
		case errors.Is(err, ErrUnsupportedPattern):
			unsupported++
			if !strings.Contains(err.Error(), "not supported") {
				t.Errorf("Compile(%q): message %q does not say \"not supported\"", pattern, err)
			}
		default:
			t.Errorf("Compile(%q) = %v; java accepts it, want success or ErrUnsupportedPattern", pattern, err)
		}
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) || pe.Pattern != pattern || pe.Pos < 0 || pe.Pos > len(pattern) ||
				!strings.HasPrefix(pattern[pe.Pos:], pe.Part) {
				t.Errorf("Compile(%q): error %#v does not locate the offending part", pattern, err)
			}
		}
	}
	t.Logf("%d java-valid patterns compiled, %d reported unsupported", compiled, unsupported)
}
