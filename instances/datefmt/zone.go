package datefmt

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxOffset is the widest offset java.time.ZoneOffset accepts.
const maxOffset = 18 * 3600

// parseOffset reads an offset at pos for offsetPatterns[style] as java's
// strict OffsetIdPrinterParser does, or zero, the text of a zero offset. It
// returns the offset in seconds east of UTC and the end position, or on
// failure a reason to add to the message.
//
// Unlike java it tries a signed offset before the zero text, so that pattern
// x reads "+0030" as +00:30 rather than "+00" followed by stray digits; both
// agree on every text java itself reads back.
func parseOffset(s string, pos int, style uint8, zero string) (secs, end int, ok bool, reason string) {
	if pos >= len(s) {
		return 0, pos, false, ""
	}
	if c := s[pos]; c == '+' || c == '-' {
		p := pos + 1
		h, p, ok := offsetPart(s, p, false)
		if !ok {
			return 0, pos, false, ""
		}
		var m, sec int
		colon := style > 0 && style%2 == 0
		switch style {
		case 1, 2: // +HHmm, +HH:mm: minutes optional
			if v, np, ok := offsetPart(s, p, colon); ok {
				m, p = v, np
			}
		case 3, 4: // +HHMM, +HH:MM
			if m, p, ok = offsetPart(s, p, colon); !ok {
				return 0, pos, false, ""
			}
		case 5, 6: // +HHMMss, +HH:MM:ss: seconds optional
			if m, p, ok = offsetPart(s, p, colon); !ok {
				return 0, pos, false, ""
			}
			if v, np, ok := offsetPart(s, p, colon); ok {
				sec, p = v, np
			}
		}
		secs = h*3600 + m*60 + sec
		if h > 23 || secs > maxOffset {
			return 0, pos, false, " (offsets range from -18:00 to +18:00)"
		}
		if c == '-' {
			secs = -secs
		}
		return secs, p, true, ""
	}
	if strings.HasPrefix(s[pos:], zero) {
		return 0, pos + len(zero), true, ""
	}
	return 0, pos, false, ""
}

// offsetPart reads two digits (after a colon when colon is set) worth at most
// 59, as java's parseDigits does.
func offsetPart(s string, p int, colon bool) (int, int, bool) {
	if colon {
		if p >= len(s) || s[p] != ':' {
			return 0, p, false
		}
		p++
	}
	if p+2 > len(s) {
		return 0, p, false
	}
	a, b := s[p], s[p+1]
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, p, false
	}
	v := int(a-'0')*10 + int(b-'0')
	if v > 59 {
		return 0, p, false
	}
	return v, p + 2, true
}

// fixedZones caches the locations Parse returns for offsets in whole minutes,
// so that parsing an offset does not allocate a location every time.
var fixedZones [2*maxOffset/60 + 1]atomic.Pointer[time.Location]

// fixedZone returns a location of the given offset, named by its java offset
// id ("+05:30"), or time.UTC for zero.
func fixedZone(secs int) *time.Location {
	if secs == 0 {
		return time.UTC
	}
	if secs%60 != 0 || secs < -maxOffset || secs > maxOffset {
		return time.FixedZone(string(appendOffset(nil, 6, "Z", secs)), secs)
	}
	slot := &fixedZones[secs/60+maxOffset/60]
	if z := slot.Load(); z != nil {
		return z
	}
	z := time.FixedZone(string(appendOffset(nil, 6, "Z", secs)), secs)
	slot.Store(z)
	return z
}

// Zones for the prefixes java's zone id parser treats specially.
var (
	zoneGMT = time.FixedZone("GMT", 0)
	zoneUT  = time.FixedZone("UT", 0)
)

// parseZoneID reads a zone id at pos as java's ZoneIdPrinterParser does: an
// offset id ("Z", "+05:30"), a UTC/GMT/UT prefixed offset ("UTC+01:00"), or
// a region id ("Europe/Paris") loaded from the tz database. A region id runs
// to the first character that cannot be part of one; if no zone has that
// name, shorter names ending before a '+' or '-' are tried.
func parseZoneID(s string, pos int) (*time.Location, int, bool, string) {
	if pos >= len(s) {
		return nil, pos, false, ""
	}
	c := s[pos]
	if c == '+' || c == '-' {
		secs, end, ok, reason := parseOffset(s, pos, 6, "Z")
		if !ok {
			return nil, pos, false, reason
		}
		return fixedZone(secs), end, true, ""
	}
	for _, prefix := range [...]string{"UTC", "GMT", "UT"} {
		if !strings.HasPrefix(s[pos:], prefix) {
			continue
		}
		p := pos + len(prefix)
		if p < len(s) && (s[p] == '+' || s[p] == '-') {
			if secs, end, ok, _ := parseOffset(s, p, 6, ""); ok {
				return time.FixedZone(prefix+string(appendOffset(nil, 6, "", secs)), secs), end, true, ""
			}
		}
		switch prefix {
		case "UTC":
			return time.UTC, p, true, ""
		case "GMT":
			return zoneGMT, p, true, ""
		}
		return zoneUT, p, true, ""
	}
	if !isLetter(c) {
		return nil, pos, false, ""
	}
	end := pos + 1
	for end < len(s) && isZoneChar(s[end]) {
		end++
	}
	if end-pos == 1 && c == 'Z' {
		return time.UTC, end, true, ""
	}
	const maxTries = 4
	for try := 0; try < maxTries && end > pos; try++ {
		if z := loadZone(s[pos:end]); z != nil {
			return z, end, true, ""
		}
		end--
		for end > pos && s[end] != '+' && s[end] != '-' {
			end--
		}
	}
	return nil, pos, false, " (unknown zone)"
}

func isZoneChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '~' || c == '/' || c == '.' || c == '_' || c == '+' || c == '-'
}

// zoneCache keeps the zones loaded by name, because time.LoadLocation reads
// the tz database on every call. Only names that load are kept, and at most
// maxCachedZones of them, so hostile input cannot grow it.
var zoneCache struct {
	sync.RWMutex
	m map[string]*time.Location
}

const maxCachedZones = 2048

func loadZone(name string) *time.Location {
	if name == "Local" {
		// time.LoadLocation("Local") is the machine's zone, which no text
		// means.
		return nil
	}
	zoneCache.RLock()
	z := zoneCache.m[name]
	zoneCache.RUnlock()
	if z != nil {
		return z
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	zoneCache.Lock()
	if zoneCache.m == nil {
		zoneCache.m = make(map[string]*time.Location)
	}
	if len(zoneCache.m) < maxCachedZones {
		zoneCache.m[strings.Clone(name)] = z
	}
	zoneCache.Unlock()
	return z
}
