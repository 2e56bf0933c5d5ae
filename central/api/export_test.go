package api

import "time"

// SetSubmitWaits shortens the job submission queue's waits for a test.
func SetSubmitWaits(queue, body time.Duration) (restore func()) {
	q, b := parseQueueWait, submitBodyWait
	parseQueueWait, submitBodyWait = queue, body
	return func() { parseQueueWait, submitBodyWait = q, b }
}

// ParseSlots is how many job submissions are read and parsed at once.
func ParseSlots() int { return cap(newParseSlots()) }
