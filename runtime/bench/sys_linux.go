//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts a new VmHWM from the current RSS, so each phase
// reports its own peak. It reports false where the kernel cannot (then the
// peak is the process's).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// memStatus reads VmRSS and VmHWM (peak RSS since the last reset) in bytes.
func memStatus() (rss, peak int64) {
	v := procStatus("VmRSS:", "VmHWM:")
	return v[0], v[1]
}

// rssSplit reads RssAnon (the heap, stacks, runtime) and RssFile (mapped
// files: mostly the store's bbolt mmap, whose clean pages the kernel can
// drop under pressure) in bytes.
func rssSplit() (anon, file int64) {
	v := procStatus("RssAnon:", "RssFile:")
	return v[0], v[1]
}

// procStatus reads the named kB fields of /proc/self/status in bytes, in
// the order asked; a field not found reads as zero.
func procStatus(names ...string) []int64 {
	out := make([]int64, len(names))
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for line := range bytes.Lines(b) {
		for i, name := range names {
			if bytes.HasPrefix(line, []byte(name)) {
				out[i] = kB(line)
			}
		}
	}
	return out
}

func kB(line []byte) int64 {
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n << 10
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// memTotal is the machine's memory in bytes.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, []byte("MemTotal:")) {
			return kB(line)
		}
	}
	return 0
}

// cpuModel names the processor.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
