//go:build !linux

package bench

import "time"

// Where there is no /proc, CPU, RSS and load read as zero: the report
// still has counts, rates and latencies.

func cpuTime() time.Duration       { return 0 }
func resetPeakRSS() bool           { return false }
func memStatus() (rss, peak int64) { return 0, 0 }
func rssSplit() (anon, file int64) { return 0, 0 }
func loadAvg() [3]float64          { return [3]float64{} }
func memTotal() int64              { return 0 }
func cpuModel() string             { return "" }
